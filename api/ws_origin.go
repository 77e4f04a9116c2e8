package api

import (
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"parley/engine"
)

// originPolicy decides which browser origins may use the realtime
// endpoints. A request without an Origin header (not a browser) passes;
// browsers always send one on WebSocket handshakes and cross-origin fetches.
type originPolicy struct {
	patterns []string
}

// allowed reports whether the request's Origin may connect: the server's
// own host always; with no configured patterns, also localhost and
// loopback addresses on any port; otherwise what a pattern matches
// ("https://app.example.com", "*.example.com", "app.example.com:8443", "*").
func (p originPolicy) allowed(r *http.Request) bool {
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

var errOriginForbidden = engine.Errorf(engine.KindForbidden, "origin_not_allowed", "this Origin may not use the realtime endpoints")

// cors answers preflights and adds CORS headers for allowed cross-origin
// callers of the realtime endpoints (/broadcasting/auth, /api/stream,
// /api/config), and refuses disallowed browser origins.
func (s *Server) cors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		origin := r.Header.Get("Origin")
		if origin != "" {
			if !s.origins.allowed(r) {
				return errOriginForbidden
			}
			h := c.Response().Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			h := c.Response().Header()
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID, X-Socket-ID")
			h.Set("Access-Control-Max-Age", "600")
			return c.NoContent(http.StatusNoContent)
		}
		return next(c)
	}
}

func noContent(c echo.Context) error { return c.NoContent(http.StatusNoContent) }
