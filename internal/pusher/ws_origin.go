package pusher

import (
	"net/http"
	"net/url"
	"path"
	"strings"

	"parley/engine"
)

// OriginPolicy decides which browser origins may use the realtime
// endpoints. A request without an Origin header (not a browser) passes;
// browsers always send one on WebSocket handshakes and cross-origin fetches.
type OriginPolicy struct {
	patterns []string
}

// Allowed reports whether the request's Origin may connect: the server's
// own host always; with no configured patterns, also localhost and
// loopback addresses on any port; otherwise what a pattern matches
// ("https://app.example.com", "*.example.com", "app.example.com:8443", "*").
func (p OriginPolicy) Allowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	if len(p.patterns) == 0 {
		switch u.Hostname() {
		case "localhost", "127.0.0.1", "::1":
			return true
		}
		return false
	}
	for _, pat := range p.patterns {
		pat = strings.ToLower(strings.TrimSpace(pat))
		if pat == "*" {
			return true
		}
		targets := []string{strings.ToLower(u.Host), strings.ToLower(u.Hostname())}
		if strings.Contains(pat, "://") {
			targets = []string{strings.ToLower(u.Scheme + "://" + u.Host)}
		}
		for _, t := range targets {
			if ok, err := path.Match(pat, t); err == nil && ok {
				return true
			}
		}
	}
	return false
}

// ErrOriginForbidden refuses a browser Origin the policy does not allow.
var ErrOriginForbidden = engine.Errorf(engine.KindForbidden, "origin_not_allowed", "this Origin may not use the realtime endpoints")

// NewOriginPolicy returns the policy of these patterns (see Allowed).
func NewOriginPolicy(patterns []string) OriginPolicy { return OriginPolicy{patterns: patterns} }
