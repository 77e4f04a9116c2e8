package api

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"parley/engine"
	"parley/internal/pusher"
)

// Realtime configures the live transports (WebSocket, SSE, presence,
// typing). A nil Realtime in Config turns them off: their routes answer 503
// realtime_disabled and clients poll the delta endpoint.
type Realtime struct {
	// Config is the Pusher side: hub, presence, apps and the socket limits.
	pusher.Config
	Changes engine.ChangeFinder

	// SSEKeepAlive is the interval of SSE comment keep-alives (default 15s).
	SSEKeepAlive time.Duration
	// Replay bounds what an SSE reconnect replays.
	Replay engine.ReplayLimits
	// PublicURL, when set, is where browsers reach the server (a proxy's
	// address): GET /api/config gives its host, port and scheme.
	PublicURL *url.URL
}

func (rt *Realtime) withDefaults() *Realtime {
	if rt == nil {
		return nil
	}
	c := *rt
	c.Config = c.Config.WithDefaults()
	if c.SSEKeepAlive <= 0 {
		c.SSEKeepAlive = 15 * time.Second
	}
	return &c
}

var errRealtimeOff = pusher.ErrRealtimeOff

// ClientConfig is the answer of GET /api/config: whether realtime is on
// and, when it is, what a Laravel Echo (broadcaster "pusher") client needs.
type ClientConfig struct {
	Realtime          bool     `json:"realtime"`
	Transports        []string `json:"transports"`
	Broadcaster       string   `json:"broadcaster,omitempty"`
	Key               string   `json:"key,omitempty"`
	Cluster           string   `json:"cluster,omitempty"`
	WSHost            string   `json:"wsHost,omitempty"`
	WSPort            int      `json:"wsPort,omitempty"`
	WSSPort           int      `json:"wssPort,omitempty"`
	ForceTLS          bool     `json:"forceTLS"`
	EnabledTransports []string `json:"enabledTransports,omitempty"`
	AuthEndpoint      string   `json:"authEndpoint,omitempty"`
	StreamEndpoint    string   `json:"streamEndpoint,omitempty"`
	DeltaEndpoint     string   `json:"deltaEndpoint"`
	PresenceTTL       int      `json:"presenceTtlSeconds,omitempty"`
	ActivityTimeout   int      `json:"activityTimeoutSeconds,omitempty"`
	MaxMessageBytes   int      `json:"maxMessageBytes,omitempty"`
}

// clientConfig answers GET /api/config. Host, port and TLS are those of
// --public-url when it is set, else those the client reached this server
// on: the Host header (a proxy passes it on) and TLS, or X-Forwarded-Proto
// from a trusted proxy (--trusted-proxies) that terminates it.
func (s *Server) clientConfig(c echo.Context) error {
	out := ClientConfig{Transports: []string{"poll"}, DeltaEndpoint: "/api/messages/{conversation_id}/delta"}
	rt := s.rt
	if rt == nil {
		return c.JSON(http.StatusOK, out)
	}
	r := c.Request()
	// X-Forwarded-Proto counts from a trusted proxy only: anyone else could
	// send it and be told to use TLS where there is none.
	tls := r.TLS != nil || rt.TrustedPeer(r) && r.Header.Get("X-Forwarded-Proto") == "https"
	hostport := r.Host
	if u := rt.PublicURL; u != nil {
		tls, hostport = u.Scheme == "https", u.Host
	}
	scheme, port := "http", 80
	if tls {
		scheme, port = "https", 443
	}
	host := hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host = h
		if n, err := strconv.Atoi(p); err == nil {
			port = n
		}
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]" // an IPv6 literal, as pusher-js puts it in a URL
	}
	out.Realtime = true
	out.Transports = []string{"websocket", "sse", "poll"}
	out.Broadcaster, out.Key, out.Cluster = "pusher", rt.AppKey, "mt1"
	out.WSHost, out.WSPort, out.WSSPort, out.ForceTLS = host, port, port, tls
	out.EnabledTransports = []string{"ws", "wss"}
	out.AuthEndpoint = scheme + "://" + hostport + "/broadcasting/auth"
	out.StreamEndpoint = "/api/stream"
	if rt.Presence != nil {
		out.PresenceTTL = int(rt.Presence.TTL() / time.Second)
	}
	out.ActivityTimeout = int(rt.ActivityTimeout / time.Second)
	out.MaxMessageBytes = rt.MaxMessageBytes
	return c.JSON(http.StatusOK, out)
}
