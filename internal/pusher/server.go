// Package pusher is Parley's Pusher protocol: the protocol 7 WebSocket at
// /app/{key} that pusher-js and Laravel Echo connect to unchanged, the
// signed Pusher HTTP API (/apps/{id}/...), the subscription signatures,
// and the per-socket machinery behind them (readers parked in epoll, pooled
// writers, the keep-alive sweeper, per-address caps). It serves the hub of
// package realtime; the api package mounts its handlers.
package pusher

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"parley/engine"
	"parley/internal/pusher/apps"
	"parley/internal/realtime"
)

// Config is what the Pusher side serves and its limits; zero values take
// the defaults (WithDefaults).
type Config struct {
	Hub      *realtime.Hub
	Presence *realtime.Presence
	// Relay carries client events (typing) to every node; nil delivers them
	// on this node only.
	Relay realtime.Relay

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
	Bus realtime.AppBus
	// Cache keeps cache channels' last events; nil turns caching off
	// (every subscription gets pusher:cache_miss).
	Cache realtime.ChannelCache
	// Occupancy counts application channels' subscriptions and each app's
	// connections cluster-wide; nil answers from this node's hub only.
	Occupancy *realtime.Occupancy
	// Hooks sends the apps' Pusher-format webhooks; nil sends none.
	Hooks *realtime.AppWebhooks
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
}

// WithDefaults returns the config with every zero limit set to its default
// and, without Apps, a registry of the messaging app alone.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ActivityTimeout, 30*time.Second)
	def(&c.PongTimeout, 30*time.Second)
	def(&c.IdleTimeout, 120*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
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
			panic("pusher: realtime without apps and with invalid AppKey/AppSecret: " + err.Error())
		}
		c.Apps = reg
	}
	return c
}

// ErrRealtimeOff answers the realtime routes of a server with realtime
// delivery turned off.
var ErrRealtimeOff = engine.Errorf(engine.KindUnavailable, "realtime_disabled",
	"realtime delivery is turned off on this server; poll GET /api/messages/{conversation_id}/delta")

// Server serves the Pusher WebSocket and HTTP API of one node.
type Server struct {
	rt     *Config
	svc    *engine.Service
	logger *slog.Logger

	origins     OriginPolicy
	wsConns     sync.WaitGroup // the sockets served; Add only under wsMu, before wsClosed
	wsMu        sync.RWMutex
	wsClosed    bool       // Close ran: sockets are refused
	sweeper     *wsSweeper // started with the first WebSocket
	poller      *wsPoller  // started with the first WebSocket; nil where there is none
	writers     *wsWriters
	sweeperOnce sync.Once
	perIP       ipCounter
	closing     context.Context
	stop        context.CancelFunc
}

// New returns the Pusher server of cfg (defaults applied), authorizing
// subscriptions with svc.
func New(cfg Config, svc *engine.Service, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default().With("component", "pusher")
	}
	c := cfg.WithDefaults()
	s := &Server{rt: &c, svc: svc, logger: logger, origins: NewOriginPolicy(c.AllowedOrigins)}
	s.sweeper = newWSSweeper(s.rt)
	s.writers = newWSWriters()
	s.closing, s.stop = context.WithCancel(context.Background())
	return s
}

// Relay delivers a client event (a whisper, typing) to the channel's other
// subscribers on every node, or on this node alone without a Relay.
func (s *Server) Relay(ctx context.Context, ev realtime.ClientEvent) {
	if s.rt.Relay == nil {
		s.rt.Hub.Deliver(ev)
		return
	}
	if err := s.rt.Relay.Publish(ctx, ev); err != nil {
		s.logger.Warn("relay client event", "event", ev.Event, "err", err)
	}
}
