package node

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"parley/internal/pusher/apps"
	"parley/internal/realtime"
)

// AppsConfig is the part of RealtimeConfig that names the Pusher apps and
// bounds what the HTTP API and anonymous sockets may do.
type AppsConfig struct {
	// AppID is the flag app's id (with AppKey and AppSecret); generated
	// into data/app.id when empty.
	AppID string
	// AppsFile is a JSON file of several apps; it replaces the flag app.
	AppsFile string
	// AppWebhooks are the flag app's webhook URLs, comma-separated.
	AppWebhooks string
	// AppMaxData bounds one event's data on the HTTP API, in bytes.
	AppMaxData int
	// MaxConnectionsPerIP bounds the WebSocket connections from one client
	// address; 0 turns it off.
	MaxConnectionsPerIP int
	// TrustedProxies are comma-separated CIDRs whose X-Forwarded-For names
	// the client address.
	TrustedProxies string
	// PublicURL is the address browsers reach this node at (a proxy's or a
	// load balancer's, https://chat.example.com); GET /api/config then
	// answers with its host, port and scheme instead of the request's.
	PublicURL string
}

// Defaults of AppsConfig.
const (
	DefaultAppMaxData          = 10 << 10
	DefaultMaxConnectionsPerIP = 200
	DefaultTrustedProxies      = "127.0.0.0/8,::1/128"
)

func (c *AppsConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.AppID, "app-id", c.AppID, "Pusher app id of the HTTP API (/apps/{id}) (default: generated into the data dir)")
	fs.StringVar(&c.AppsFile, "apps-file", c.AppsFile, `JSON file of several Pusher apps [{"id","key","secret","webhooks":[...],"messaging":true}]; replaces --app-id/--app-key/--app-secret`)
	fs.StringVar(&c.AppWebhooks, "app-webhooks", c.AppWebhooks, "comma-separated URLs that receive the flag app's Pusher webhooks (channel_occupied, member_added, client_event, ...)")
	fs.IntVar(&c.AppMaxData, "app-max-data", c.AppMaxData, "largest event data the Pusher HTTP API accepts, in bytes (413 above)")
	fs.IntVar(&c.MaxConnectionsPerIP, "max-connections-per-ip", c.MaxConnectionsPerIP, "WebSocket connections one client address (for IPv6, one /64) may hold on this node (4100 above); 0 turns it off")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", c.TrustedProxies, "comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client address")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "the URL browsers reach Parley at (https://chat.example.com): /api/config tells clients its host, port and TLS (default: the request's Host and X-Forwarded-Proto)")
}

func (c AppsConfig) validate(key, secret string) []error {
	var errs []error
	if c.AppsFile != "" && (c.AppID != "" || key != "" || secret != "" || c.AppWebhooks != "") {
		errs = append(errs, errors.New("--apps-file replaces --app-id, --app-key, --app-secret and --app-webhooks; give one or the other"))
	}
	if c.AppID != "" && !apps.ValidName(c.AppID) {
		errs = append(errs, errors.New("--app-id must be 1-64 characters of A-Z a-z 0-9 _ -"))
	}
	if c.AppMaxData < 1 || c.AppMaxData > 1<<20 {
		errs = append(errs, errors.New("--app-max-data must be between 1 and 1048576 bytes"))
	}
	if c.MaxConnectionsPerIP < 0 {
		errs = append(errs, errors.New("--max-connections-per-ip must be 0 (off) or positive"))
	}
	if _, err := parseCIDRs(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("--trusted-proxies: %w", err))
	}
	if _, err := parsePublicURL(c.PublicURL); err != nil {
		errs = append(errs, fmt.Errorf("--public-url: %w", err))
	}
	return errs
}

// parsePublicURL reads --public-url: nil when it is empty, an error unless
// it is an absolute http or https URL with a host and nothing after it but
// an optional "/".
func parsePublicURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, fmt.Errorf("%q is not an http:// or https:// URL with a host", s)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%q: give the scheme and host (and port) only: Parley serves at the root", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q: bad port", s)
		}
	}
	return u, nil
}

func parseCIDRs(list string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// Apps returns the configured apps: the apps file's, or the flag app, whose
// id, key and secret are generated into the data dir (app.id, app.key,
// app.secret) when not given.
func (c RealtimeConfig) Apps(dataDir string) (*apps.Registry, error) {
	if c.AppsFile != "" {
		list, err := apps.ReadFile(c.AppsFile)
		if err != nil {
			return nil, err
		}
		return apps.New(list)
	}
	id := c.AppID
	if id == "" {
		var err error
		if id, err = storedValue(filepath.Join(dataDir, "app.id"), 4); err != nil {
			return nil, err
		}
	}
	key, secret, err := AppCredentials(c.AppKey, c.AppSecret, dataDir)
	if err != nil {
		return nil, err
	}
	var hooks []string
	for _, u := range strings.Split(c.AppWebhooks, ",") {
		if u = strings.TrimSpace(u); u != "" {
			hooks = append(hooks, u)
		}
	}
	return apps.New([]apps.App{{ID: id, Key: key, Secret: secret, Webhooks: hooks, Messaging: true}})
}

// hookTargets lists the apps with webhook URLs.
func hookTargets(reg *apps.Registry) []realtime.AppHookTarget {
	var out []realtime.AppHookTarget
	for _, a := range reg.All() {
		if len(a.Webhooks) > 0 {
			out = append(out, realtime.AppHookTarget{AppID: a.ID, Key: a.Key, Secret: []byte(a.Secret), URLs: a.Webhooks})
		}
	}
	return out
}

// appID maps a hub namespace to its app's id.
func appID(reg *apps.Registry, ns string) string {
	if ns == "" {
		return reg.Messaging().ID
	}
	return ns
}
