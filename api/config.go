package api

import (
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"parley/engine"
	"parley/internal/apps"
)

// Realtime configures the live transports (WebSocket, SSE, presence,
// typing). A nil Realtime in Config turns them off: their routes answer 503
// realtime_disabled and clients poll the delta endpoint.
type Realtime struct {
	Hub      *engine.Hub
	Presence *engine.Presence
	// Relay carries client events (typing) to every node; nil delivers them
	// on this node only.
	Relay engine.Relay
	// Changes finds what an SSE client missed.
	Changes engine.ChangeFinder

	// AppKey and AppSecret are the Pusher app credentials: the key is
	// public (clients connect to /app/<key>), the secret signs subscriptions.
	AppKey    string
	AppSecret []byte
	// Apps are the Pusher apps this node serves; the messaging app's key and
	// secret must be AppKey and AppSecret. Nil serves the messaging app
	// alone, with id "app".
	Apps *apps.Registry
	// Bus carries the HTTP API's events and terminations to every node;
	// nil delivers them on this node only.
	Bus engine.AppBus
	// Cache keeps cache channels' last events; nil turns caching off
	// (every subscription gets pusher:cache_miss).
	Cache engine.ChannelCache
	// Occupancy counts application channels' subscriptions and each app's
	// connections cluster-wide; nil answers from this node's hub only.
	Occupancy *engine.Occupancy
	// Hooks sends the apps' Pusher-format webhooks; nil sends none.
	Hooks *engine.AppWebhooks
	// MaxEventData bounds the data of one event the HTTP API accepts
	// (default 10 KB, as Pusher).
	MaxEventData int
	// MaxConnectionsPerIP bounds the WebSocket connections from one client
	// address (0: no limit); TrustedProxies are the networks whose
	// X-Forwarded-For names the client address.
	MaxConnectionsPerIP int
	TrustedProxies      []*net.IPNet
	// AllowedOrigins lists the browser origins that may connect besides
	// the server's own host: "https://app.example.com", a host pattern
	// such as "*.example.com", or "*" for any. Empty allows the same host
	// and localhost only.
	AllowedOrigins []string

	// MaxMessageBytes bounds one incoming WebSocket message (default 10 KB).
	MaxMessageBytes int
	// ActivityTimeout is the silence after which the server pings a socket
	// (default 30s), told to clients as activity_timeout.
	ActivityTimeout time.Duration
	// PongTimeout is how long a pinged socket has to answer (default 30s)
	// before it is closed with 4201.
	PongTimeout time.Duration
	// IdleTimeout closes with 4202 a socket that has no subscription for
	// this long (default 120s).
	IdleTimeout time.Duration
	// ClientEventsPerSecond and ClientEventBurst rate-limit client events
	// per connection (default 10/s, burst 10, as Pusher).
	ClientEventsPerSecond float64
	ClientEventBurst      int
	// WriteTimeout bounds one write to a client (default 10s).
	WriteTimeout time.Duration
	// SSEKeepAlive is the interval of SSE comment keep-alives (default 15s).
	SSEKeepAlive time.Duration
	// Replay bounds what an SSE reconnect replays.
	Replay engine.ReplayLimits
}

func (rt *Realtime) withDefaults() *Realtime {
	if rt == nil {
		return nil
	}
	c := *rt
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ActivityTimeout, 30*time.Second)
	def(&c.PongTimeout, 30*time.Second)
	def(&c.IdleTimeout, 120*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.SSEKeepAlive, 15*time.Second)
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 10 << 10
	}
	if c.ClientEventsPerSecond <= 0 {
		c.ClientEventsPerSecond = 10
	}
	if c.ClientEventBurst <= 0 {
		c.ClientEventBurst = 10
	}
	if c.MaxEventData <= 0 {
		c.MaxEventData = 10 << 10
	}
	if c.Apps == nil {
		reg, err := apps.New([]apps.App{{ID: "app", Key: c.AppKey, Secret: string(c.AppSecret), Messaging: true}})
		if err != nil {
			panic("api: realtime without apps and with invalid AppKey/AppSecret: " + err.Error())
		}
		c.Apps = reg
	}
	return &c
}

var errRealtimeOff = engine.Errorf(engine.KindUnavailable, "realtime_disabled",
	"realtime delivery is turned off on this server; poll GET /api/messages/{conversation_id}/delta")

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

// clientConfig answers GET /api/config. Host and port are those the client
// reached this server on.
func (s *Server) clientConfig(c echo.Context) error {
	out := ClientConfig{Transports: []string{"poll"}, DeltaEndpoint: "/api/messages/{conversation_id}/delta"}
	rt := s.rt
	if rt == nil {
		return c.JSON(http.StatusOK, out)
	}
	r := c.Request()
	tls := r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
	scheme, port := "http", 80
	if tls {
		scheme, port = "https", 443
	}
	host := r.Host
	if h, p, err := net.SplitHostPort(r.Host); err == nil {
		host = h
		if n, err := strconv.Atoi(p); err == nil {
			port = n
		}
	}
	out.Realtime = true
	out.Transports = []string{"websocket", "sse", "poll"}
	out.Broadcaster, out.Key, out.Cluster = "pusher", rt.AppKey, "mt1"
	out.WSHost, out.WSPort, out.WSSPort, out.ForceTLS = host, port, port, tls
	out.EnabledTransports = []string{"ws", "wss"}
	out.AuthEndpoint = scheme + "://" + r.Host + "/broadcasting/auth"
	out.StreamEndpoint = "/api/stream"
	if rt.Presence != nil {
		out.PresenceTTL = int(rt.Presence.TTL() / time.Second)
	}
	out.ActivityTimeout = int(rt.ActivityTimeout / time.Second)
	out.MaxMessageBytes = rt.MaxMessageBytes
	return c.JSON(http.StatusOK, out)
}
