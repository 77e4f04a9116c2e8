package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"parley/api"
	"parley/engine"
	"parley/internal/pusher"
	"parley/internal/realtime"
	"parley/streams"
)

// RealtimeConfig is the part of Config that shapes live delivery.
type RealtimeConfig struct {
	Realtime          bool
	AppKey            string
	AppSecret         string
	AllowedOrigins    string // comma-separated
	PresenceTTL       time.Duration
	WSMaxMessage      int
	WSBuffer          int
	WSActivityTimeout time.Duration
	WSPongTimeout     time.Duration
	WSIdleTimeout     time.Duration
	MaxConnections    int
	SSEKeepAlive      time.Duration
	AppsConfig
}

// DefaultRealtimeConfig is live delivery as `parley serve` runs it.
func DefaultRealtimeConfig() RealtimeConfig {
	return RealtimeConfig{
		Realtime: true, PresenceTTL: 60 * time.Second, WSMaxMessage: 10 << 10, WSBuffer: realtime.DefaultHubBuffer,
		WSActivityTimeout: 30 * time.Second, WSPongTimeout: 30 * time.Second, WSIdleTimeout: 120 * time.Second,
		MaxConnections: realtime.DefaultMaxClients, SSEKeepAlive: 15 * time.Second,
		AppsConfig: AppsConfig{AppMaxData: DefaultAppMaxData, MaxConnectionsPerIP: DefaultMaxConnectionsPerIP,
			TrustedProxies: DefaultTrustedProxies},
	}
}

func (c *RealtimeConfig) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.Realtime, "realtime", c.Realtime, "serve WebSocket (Pusher protocol 7) and SSE; false makes clients poll delta (also MESSAGING_REALTIME)")
	fs.StringVar(&c.AppKey, "app-key", c.AppKey, "Pusher app key clients connect with (default: generated into the data dir)")
	fs.StringVar(&c.AppSecret, "app-secret", c.AppSecret, "Pusher app secret that signs subscriptions (default: generated into the data dir)")
	fs.StringVar(&c.AllowedOrigins, "allowed-origins", c.AllowedOrigins,
		"comma-separated browser origins allowed besides the server's own host (https://app.example.com, *.example.com, *); empty allows the same host and localhost")
	fs.DurationVar(&c.PresenceTTL, "presence-ttl", c.PresenceTTL, "how long a presence heartbeat or a crashed node's socket keeps a user online")
	fs.IntVar(&c.WSMaxMessage, "ws-max-message", c.WSMaxMessage, "largest WebSocket message a client may send, in bytes")
	fs.IntVar(&c.WSBuffer, "ws-buffer", c.WSBuffer, "outbound buffer per connection, in messages; a client that lets it fill is disconnected")
	fs.DurationVar(&c.WSActivityTimeout, "ws-activity-timeout", c.WSActivityTimeout, "silence after which the server pings a socket")
	fs.DurationVar(&c.WSPongTimeout, "ws-pong-timeout", c.WSPongTimeout, "how long a pinged socket has to answer before it is closed (4201)")
	fs.DurationVar(&c.WSIdleTimeout, "ws-idle-timeout", c.WSIdleTimeout, "how long a socket may stay without any subscription (4202)")
	fs.IntVar(&c.MaxConnections, "max-connections", c.MaxConnections, "realtime connections (WebSocket + SSE) this node accepts")
	fs.DurationVar(&c.SSEKeepAlive, "sse-keepalive", c.SSEKeepAlive, "interval of SSE keep-alive comments")
	c.AppsConfig.register(fs)
}

func (c RealtimeConfig) validate() []error {
	var errs []error
	if c.PresenceTTL < time.Second || c.PresenceTTL%time.Second != 0 {
		errs = append(errs, errors.New("--presence-ttl must be whole seconds, at least 1s"))
	}
	if c.WSMaxMessage < 1024 || c.WSMaxMessage > 1<<20 {
		errs = append(errs, errors.New("--ws-max-message must be between 1024 and 1048576 bytes"))
	}
	if c.WSBuffer < 1 || c.WSBuffer > 1<<16 {
		errs = append(errs, errors.New("--ws-buffer must be between 1 and 65536"))
	}
	if c.WSActivityTimeout < time.Second || c.WSPongTimeout <= 0 || c.WSIdleTimeout <= 0 || c.SSEKeepAlive <= 0 {
		errs = append(errs, errors.New("--ws-activity-timeout must be at least 1s; --ws-pong-timeout, --ws-idle-timeout and --sse-keepalive positive"))
	}
	if c.MaxConnections < 1 {
		errs = append(errs, errors.New("--max-connections must be positive"))
	}
	if c.AppKey != "" && !validAppKey(c.AppKey) {
		errs = append(errs, errors.New("--app-key must be 1-64 characters of A-Z a-z 0-9 _ -"))
	}
	errs = append(errs, c.AppsConfig.validate(c.AppKey, c.AppSecret)...)
	return errs
}

func validAppKey(k string) bool {
	if len(k) == 0 || len(k) > 64 {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// liveParts is the node's live-delivery machinery.
type liveParts struct {
	hub        *realtime.Hub
	presence   *realtime.Presence
	occupancy  *realtime.Occupancy
	hooks      *realtime.AppWebhooks
	appHooks   *appHooks
	dispatcher *realtime.Dispatcher
	stops      []func()
	cancel     context.CancelFunc
	done       chan struct{}
}

// startRealtime builds the hub, presence, occupancy, relay and app bus, and
// returns what the API needs; nil when realtime is off. It runs before the
// projector starts, so onCommit sees a complete realtime.
func (m *Node) startRealtime(ctx context.Context) (*api.Realtime, error) {
	cfg := m.Config.RealtimeConfig
	if !cfg.Realtime {
		return nil, nil
	}
	reg, err := cfg.Apps(m.Config.DataDir)
	if err != nil {
		return nil, fmt.Errorf("apps: %w", err)
	}
	store, err := m.conn.Presence(ctx, streams.PresenceConfig{TTL: cfg.PresenceTTL, Replicas: m.Config.Replicas})
	if err != nil {
		return nil, err
	}
	occStore, err := m.conn.Presence(ctx, streams.PresenceConfig{TTL: cfg.PresenceTTL, Replicas: m.Config.Replicas, Bucket: streams.OccupancyBucket})
	if err != nil {
		return nil, err
	}
	cache, err := m.conn.ChannelCache(ctx, 0, m.Config.Replicas)
	if err != nil {
		return nil, err
	}
	logger := m.Logger.With("component", "realtime")
	hub := realtime.NewHub(realtime.HubConfig{Buffer: cfg.WSBuffer, MaxClients: cfg.MaxConnections})
	rt := &liveParts{hub: hub, done: make(chan struct{})}
	rt.hooks = realtime.NewAppWebhooks(hookTargets(reg), realtime.AppWebhooksConfig{Sender: m.webhooks,
		RetryBase: m.Config.WebhookRetry, MaxAttempts: m.Config.WebhookMaxAttempts, Logger: logger.With("part", "app-webhooks")})
	claims, err := m.conn.Claims(ctx, m.Config.Replicas)
	if err != nil {
		return nil, err
	}
	ah := newAppHooks(reg, rt.hooks, realtime.NewSocketID(), logger.With("part", "app-webhooks"))
	rt.presence = realtime.NewPresence(store, hub, realtime.PresenceConfig{TTL: cfg.PresenceTTL, Logger: logger, OnTransition: ah.presence,
		Contacts: m.db, Members: m.members})
	rt.occupancy = realtime.NewOccupancy(occStore, realtime.OccupancyConfig{TTL: cfg.PresenceTTL, Logger: logger}, ah.occupancy)
	ah.members, ah.counts = rt.presence, rt.occupancy
	rt.appHooks = ah
	presence := rt.presence
	rt.dispatcher = realtime.NewDispatcher(hub, m.db, realtime.DispatcherConfig{Logger: logger, Members: m.members,
		OnRemoved: func(ctx context.Context, conversationID, userID string) {
			presence.Evict(ctx, engine.PresenceConversationChannel(conversationID), userID)
		}})
	m.rt = rt
	relay, bus := m.conn.Relay(), m.conn.AppBus()
	stop, err := relay.Subscribe(hub.Deliver)
	if err != nil {
		return nil, err
	}
	rt.stops = append(rt.stops, stop)
	if stop, err = bus.Subscribe(hub.DeliverServer, func(t realtime.Termination) { hub.Terminate(t.AppID, t.UserID) }); err != nil {
		return nil, err
	}
	rt.stops = append(rt.stops, stop)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	rt.cancel = cancel
	go func() {
		defer close(rt.done)
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { defer wg.Done(); rt.hooks.Run(runCtx) }()
		go func() { defer wg.Done(); ah.runOrphans(runCtx, claims) }()
		go func() { defer wg.Done(); _ = rt.occupancy.Run(runCtx) }()
		go rt.dispatcher.Run()
		_ = presence.Run(runCtx)
		wg.Wait()
	}()
	for what, ch := range map[string]<-chan struct{}{"presence": presence.Synced(), "occupancy": rt.occupancy.Synced()} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			return nil, fmt.Errorf("%s: the watcher did not load the bucket in 10s", what)
		}
	}
	var origins []string
	for _, o := range strings.Split(cfg.AllowedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	proxies, _ := parseCIDRs(cfg.TrustedProxies) // validated
	public, _ := parsePublicURL(cfg.PublicURL)   // validated
	msg := reg.Messaging()
	return &api.Realtime{
		Config: pusher.Config{
			Hub: hub, Presence: presence, Relay: relay,
			AppKey: msg.Key, AppSecret: []byte(msg.Secret), AllowedOrigins: origins,
			Apps: reg, Bus: bus, Cache: cache, Occupancy: rt.occupancy, Hooks: rt.hooks,
			MaxEventData: cfg.AppMaxData, MaxConnectionsPerIP: cfg.MaxConnectionsPerIP, TrustedProxies: proxies,
			MaxMessageBytes: cfg.WSMaxMessage, ActivityTimeout: cfg.WSActivityTimeout,
			PongTimeout: cfg.WSPongTimeout, IdleTimeout: cfg.WSIdleTimeout,
		},
		Changes: m.db, SSEKeepAlive: cfg.SSEKeepAlive, PublicURL: public,
	}, nil
}

// onCommit receives every batch of accepted events after the projector has
// committed it: the hand-off point to realtime delivery.
func (m *Node) onCommit(events []engine.Event) {
	if m.rt != nil {
		m.rt.dispatcher.OnCommit(events)
		m.rt.presence.OnCommit(events) // contact sets follow membership
	}
}

// closeRealtime stops the dispatcher, the presence watcher and the relay;
// the API has dropped the clients already.
func (m *Node) closeRealtime() {
	rt := m.rt
	if rt == nil {
		return
	}
	rt.dispatcher.Close()
	if rt.cancel != nil {
		rt.cancel()
		<-rt.done
	}
	for _, stop := range rt.stops {
		stop()
	}
	m.rt = nil
}

// Hub is the node's realtime hub (nil with realtime off), for stats and tests.
func (m *Node) Hub() *realtime.Hub {
	if m.rt == nil {
		return nil
	}
	return m.rt.hub
}

// Presence is the node's presence tracker (nil with realtime off).
func (m *Node) Presence() *realtime.Presence {
	if m.rt == nil {
		return nil
	}
	return m.rt.presence
}

// AppCredentials returns the configured Pusher app key and secret, or the
// data dir's, generating and storing them on first use (app.key, app.secret).
func AppCredentials(key, secret, dataDir string) (string, string, error) {
	var err error
	if key == "" {
		if key, err = storedValue(filepath.Join(dataDir, "app.key"), 10); err != nil {
			return "", "", err
		}
	}
	if secret == "" {
		if secret, err = storedValue(filepath.Join(dataDir, "app.secret"), 32); err != nil {
			return "", "", err
		}
	}
	return key, secret, nil
}

// storedValue reads path, or creates it holding n random bytes in hex.
func storedValue(path string, n int) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
		return "", fmt.Errorf("%s is empty", path)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, n)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	s := hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return storedValue(path, n) // another process made it first
	}
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return "", err
	}
	return s, f.Close()
}
