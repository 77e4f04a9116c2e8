// Package node wires Parley's concrete parts into one running engine: the
// log, the read models, the projector and the HTTP API. `parley serve` and the
// integration tests start it the same way.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"parley/api"
	"parley/api/webui"
	"parley/engine"
	"parley/internal/webhook"
	"parley/projections"
	"parley/streams"
)

// Config is everything `parley serve` can be told.
type Config struct {
	Addr      string
	DataDir   string
	JWTSecret string
	NATSURL   string
	Sync      string // "always" (default: fsync before the ack) or "interval"
	// GroupCommit coalesces the appends that arrive together into atomic
	// batches, one fsync each (default on).
	GroupCommit     bool
	Replicas        int
	DuplicateWindow time.Duration
	ApplyTimeout    time.Duration
	// CommitGap is the projector's least time between two batches' starts
	// while events keep arriving (0: none).
	CommitGap time.Duration
	// AppendTimeout bounds a write's wait for the log's ack: past it the
	// request answers 503 log_unavailable.
	AppendTimeout time.Duration
	// MaxLogBytes bounds the MESSAGES stream (0: no bound): a full log
	// refuses writes with 507 storage_full and keeps every event.
	MaxLogBytes int64
	// MaxAttachmentBytes bounds one upload; AttachmentTTL is how long an
	// upload no message carries is kept; MaxAttachmentsBytes bounds the
	// attachments bucket (0: none).
	MaxAttachmentBytes  int64
	AttachmentTTL       time.Duration
	MaxAttachmentsBytes int64
	// TLSCert and TLSKey, both set, make the node serve HTTPS (and wss)
	// itself, reloading the files when they change.
	TLSCert, TLSKey string
	// CatchUpWait is how long a lookup that found nothing waits for a
	// lagging projector to move (engine.ServiceConfig; 0: 2s).
	CatchUpWait time.Duration
	// CatchUpWaiters bounds the lookups waiting past one CatchUpWait at
	// once (engine.ServiceConfig; 0: 256).
	CatchUpWaiters int
	LogLevel       string
	// NATSListen is where the embedded server also accepts local TCP clients
	// (tools such as replay and verify); "" turns it off.
	NATSListen string
	// ClusterName, ClusterListen and Routes make the embedded NATS server
	// a member of a JetStream cluster of parley nodes.
	ClusterName   string
	ClusterListen string
	Routes        string
	// ProjectionVersion overrides projections.Version (tests of upgrades).
	ProjectionVersion int
	// SendRate and SendBurst limit each user's sends; 0 turns it off.
	SendRate  float64
	SendBurst int
	// Dev turns on the development sign-in, POST /dev/token (anyone may
	// act as any user); never in production.
	Dev bool
	RealtimeConfig
	OpsConfig
}

// maxCommitGap bounds --commit-gap: every send may wait for it.
const maxCommitGap = 50 * time.Millisecond

// DefaultConfig is what `parley serve` runs with when told nothing.
func DefaultConfig() Config {
	return Config{
		Addr: "127.0.0.1:8080", DataDir: "./data", Sync: "always", GroupCommit: true,
		DuplicateWindow: 2 * time.Minute, ApplyTimeout: 10 * time.Second, CommitGap: projections.DefaultCommitGap, AppendTimeout: time.Second, LogLevel: "info",
		NATSListen: "127.0.0.1:0", SendRate: 20, SendBurst: 50,
		MaxAttachmentBytes: 10 << 20, AttachmentTTL: 24 * time.Hour,
		RealtimeConfig: DefaultRealtimeConfig(),
		OpsConfig:      DefaultOpsConfig(),
	}
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("--addr is required"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data is required"))
	}
	if c.Sync != "interval" && c.Sync != "always" {
		errs = append(errs, fmt.Errorf("--sync must be interval or always, not %q", c.Sync))
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, errors.New("--replicas must be between 0 (auto) and 5"))
	}
	if c.ClusterName != "" && (c.ClusterListen == "" || c.Routes == "" || c.NATSURL != "" || c.NATSListen == "") {
		errs = append(errs, errors.New("--cluster-name needs --cluster-listen and --routes, an embedded server (no --nats-url) and --nats-listen"))
	}
	if c.DuplicateWindow < 100*time.Millisecond {
		errs = append(errs, errors.New("--dup-window must be at least 100ms"))
	}
	if c.ApplyTimeout <= 0 {
		errs = append(errs, errors.New("--apply-timeout must be positive"))
	}
	if c.CommitGap < 0 || c.CommitGap > maxCommitGap {
		errs = append(errs, fmt.Errorf("--commit-gap must be between 0 and %v", maxCommitGap))
	}
	if c.MaxAttachmentBytes <= 0 {
		errs = append(errs, errors.New("--max-attachment-bytes must be positive"))
	}
	if c.AttachmentTTL <= 0 {
		errs = append(errs, errors.New("--attachment-ttl must be positive"))
	}
	if c.AppendTimeout <= 0 {
		errs = append(errs, errors.New("--append-timeout must be positive"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.MaxLogBytes < 0 {
		errs = append(errs, errors.New("--max-log-bytes must be 0 (no bound) or positive"))
	}
	errs = append(errs, c.RealtimeConfig.validate()...)
	errs = append(errs, c.OpsConfig.validate()...)
	return errors.Join(errs...)
}

// Register defines the serve flags on fs.
func (c *Config) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "HTTP listen address")
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data directory (NATS store, SQLite, generated secrets)")
	fs.StringVar(&c.JWTSecret, "jwt-secret", c.JWTSecret, "HS256 secret for user tokens (default: generated into the data dir)")
	fs.StringVar(&c.NATSURL, "nats-url", c.NATSURL, "external NATS JetStream URL(s), comma-separated; empty embeds a server")
	fs.StringVar(&c.Sync, "sync", c.Sync, "log durability: always (fsync before every ack: survives a power loss) or interval (fsync every 2 min: survives a killed process only)")
	fs.BoolVar(&c.GroupCommit, "group-commit", c.GroupCommit, "publish the appends that arrive together as one atomic batch with one fsync")
	fs.IntVar(&c.Replicas, "replicas", c.Replicas, "stream replicas (0: 1 embedded)")
	fs.DurationVar(&c.DuplicateWindow, "dup-window", c.DuplicateWindow, "JetStream duplicate window for idempotent sends")
	fs.DurationVar(&c.ApplyTimeout, "apply-timeout", c.ApplyTimeout, "how long a command waits for its own projection")
	fs.DurationVar(&c.CommitGap, "commit-gap", c.CommitGap, "while events keep arriving, the projector's least time between two commits' starts: more events per commit, less CPU (0: commit as soon as an event arrives)")
	fs.DurationVar(&c.AppendTimeout, "append-timeout", c.AppendTimeout, "how long a write waits for the log's ack before it answers 503 log_unavailable")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "PEM certificate (chain) to serve HTTPS and wss directly, without a proxy; reloaded when the file changes")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "PEM private key of --tls-cert; reloaded when the file changes")
	fs.Int64Var(&c.MaxLogBytes, "max-log-bytes", c.MaxLogBytes, "bound on the MESSAGES stream's bytes (0: none); a full log answers writes 507 storage_full")
	fs.Int64Var(&c.MaxAttachmentBytes, "max-attachment-bytes", c.MaxAttachmentBytes, "bound on one upload's bytes (larger: 413 attachment_too_large)")
	fs.Int64Var(&c.MaxAttachmentsBytes, "max-attachments-bytes", c.MaxAttachmentsBytes, "bound on the attachments bucket's bytes (0: none)")
	fs.DurationVar(&c.AttachmentTTL, "attachment-ttl", c.AttachmentTTL, "how long an upload that no message carries is kept")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.ClusterName, "cluster-name", c.ClusterName, "join the embedded NATS server to this JetStream cluster (with --cluster-listen and --routes)")
	fs.StringVar(&c.ClusterListen, "cluster-listen", c.ClusterListen, "host:port where the embedded NATS server listens for cluster routes")
	fs.StringVar(&c.Routes, "routes", c.Routes, "cluster URLs of every member, comma-separated (nats://host:port,...)")
	fs.Float64Var(&c.SendRate, "send-rate", c.SendRate, "sends per second per user (token bucket; 0: no limit)")
	fs.IntVar(&c.SendBurst, "send-burst", c.SendBurst, "burst of sends per user above --send-rate")
	fs.BoolVar(&c.Dev, "dev", c.Dev, "development sign-in: POST /dev/token {user, name} mints a token for anyone (the page at / uses it); never in production")
	fs.StringVar(&c.NATSListen, "nats-listen", c.NATSListen, "loopback address where the embedded NATS also serves local tools (replay, verify, stats), token-protected; empty turns it off")
	c.RealtimeConfig.register(fs)
	c.OpsConfig.register(fs)
}

// Node is one running engine: log, read models, projector and HTTP. Tests
// start it exactly as `parley serve` does.
type Node struct {
	Config Config
	Logger *slog.Logger

	conn     *streams.Conn
	svc      *engine.Service
	sweeper  *attachmentSweeper
	db       *projections.DB
	dbClosed bool // Close closed db (which stays set for late readers)
	ln       net.Listener
	http     *http.Server
	api      *api.Server
	projMu   sync.Mutex // guards proj and closing against the upgrade
	proj     *projRunner
	closing  bool
	health   *health
	disk     diskWatch // the data directory's free space
	// sawFullDisk is set when a sample finds the disk nearly full, and
	// cleared once the embedded JetStream has been reloaded after it.
	sawFullDisk atomic.Bool
	// advanced is when the messages projector last committed (Unix ns).
	advanced atomic.Int64
	// tailFailing is set by the projector's first failure to follow the
	// log and cleared by its next commit: one log line per series.
	tailFailing atomic.Bool
	httpDone    chan error
	upgrade     *upgrader
	rt          *liveParts
	ops         *opsRuntime          // notifications, webhooks, stats (ops_runtime.go)
	recent      *engine.RecentEvents // recent events for deltas, fed by the projector
	members     *engine.Members      // conversations' participants for dispatch and notifications, fed by the projector
	webhooks    *webhook.Sender      // every webhook the node sends: notifications' and the Pusher apps'
}

// Run starts everything and returns once the engine serves.
func (m *Node) Run(ctx context.Context) (err error) {
	if err := m.Config.Validate(); err != nil {
		return err
	}
	if m.Logger == nil {
		m.Logger = slog.Default()
	}
	m.recent = engine.NewRecentEvents()
	m.health = newHealth(m.Logger)
	m.advanced.Store(time.Now().UnixNano())
	m.members = engine.NewMembers(func(ctx context.Context, id string) ([]engine.Participant, error) {
		return m.db.Participants(ctx, id)
	})
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if err := os.MkdirAll(m.Config.DataDir, 0o755); err != nil {
		return err
	}
	secret, err := JWTSecret(m.Config.JWTSecret, m.Config.DataDir)
	if err != nil {
		return fmt.Errorf("jwt secret: %w", err)
	}
	scfg := streams.Config{
		DataDir: m.Config.DataDir, URL: m.Config.NATSURL, SyncAlways: m.Config.Sync == "always", GroupCommit: m.Config.GroupCommit,
		Replicas: m.Config.Replicas, DuplicateWindow: m.Config.DuplicateWindow,
		AppendTimeout: m.Config.AppendTimeout, MaxLogBytes: m.Config.MaxLogBytes,
	}
	if m.Config.ClusterName != "" {
		scfg.ClusterName, scfg.ClusterListen, scfg.ServerName = m.Config.ClusterName, m.Config.ClusterListen, m.Config.NodeName
		if scfg.ServerName == "" { // the Raft identity must not change across restarts
			host, _ := os.Hostname()
			scfg.ServerName = host + "-" + strings.ReplaceAll(m.Config.ClusterListen, ":", "-")
		}
		for _, r := range strings.Split(m.Config.Routes, ",") {
			if r = strings.TrimSpace(r); r != "" {
				scfg.Routes = append(scfg.Routes, r)
			}
		}
	}
	if m.Config.NATSURL == "" && m.Config.NATSListen != "" {
		scfg.Listen = m.Config.NATSListen
		if scfg.Token, err = randomToken(); err != nil {
			return err
		}
	}
	if m.Config.NATSURL == "" {
		if err := m.checkFreshStore(); err != nil {
			return err
		}
	}
	m.conn, err = streams.Open(ctx, scfg)
	if err != nil {
		return m.storeAdvice(err)
	}
	m.Config.Replicas = m.conn.Replicas() // the other streams and buckets follow the log
	if err := writeToolURL(m.Config.DataDir, m.conn.ClientURL(), scfg.Token); err != nil {
		return err
	}
	m.db, err = projections.Open(ctx, projections.LivePath(m.Config.DataDir))
	if err != nil {
		return err
	}
	if err := m.checkAhead(ctx); err != nil {
		return err
	}
	built, err := m.checkVersion(ctx)
	if err != nil {
		return err
	}
	m.webhooks = webhook.NewSender(m.Config.WebhookTimeout)
	rtAPI, err := m.startRealtime(ctx)
	if err != nil {
		return err
	}
	log := m.conn.Log()
	log.OnAppend(m.appendReported)
	m.warmRecent(ctx)
	m.startProjector()
	opsAPI, notes, err := m.startOps(ctx)
	if err != nil {
		return err
	}
	if built < m.version() { // after startOps: the rebuild covers notifications too
		m.startUpgrade(built)
	}
	blobs, err := m.conn.Attachments(ctx, m.Config.MaxAttachmentsBytes)
	if err != nil {
		return err
	}
	svc := engine.NewService(log, m.db, engine.ServiceConfig{ApplyTimeout: m.Config.ApplyTimeout,
		CatchUpWait: m.Config.CatchUpWait, CatchUpWaiters: m.Config.CatchUpWaiters, Recent: m.recent,
		ProjectorPaused: func() bool { return m.health.has(projectorComponent) }, Blobs: blobs, AttachmentTTL: m.Config.AttachmentTTL})
	m.svc = svc
	m.startAttachmentSweeper()
	m.api = api.New(api.Config{Service: svc, JWTSecret: secret, Logger: m.Logger.With("component", "api"), Realtime: rtAPI,
		MaxAttachmentBytes: m.Config.MaxAttachmentBytes,
		SendRate:           m.Config.SendRate, SendBurst: m.Config.SendBurst, Dev: m.Config.Dev, Ready: m.ready, Notifications: notes, Ops: opsAPI})
	if m.Config.Dev {
		m.Logger.Warn("dev sign-in is on (--dev): anyone who reaches this server can act as any user")
	}
	m.startSnapshots()
	var certs *certReloader
	if m.Config.TLSCert != "" {
		if certs, err = newCertReloader(m.Config.TLSCert, m.Config.TLSKey, m.Logger); err != nil {
			return err
		}
	}
	m.ln, err = net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return err
	}
	m.http = &http.Server{Handler: webui.Mount(m.api), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	m.httpDone = make(chan error, 1)
	if certs != nil {
		m.http.TLSConfig = &tls.Config{GetCertificate: certs.GetCertificate, MinVersion: tls.VersionTLS12}
		go func() { m.httpDone <- m.http.ServeTLS(m.ln, "", "") }()
		return nil
	}
	go func() { m.httpDone <- m.http.Serve(m.ln) }()
	return nil
}

// Addr is the address HTTP listens on.
func (m *Node) Addr() string { return m.ln.Addr().String() }

// URL is the base URL of the HTTP API.
func (m *Node) URL() string {
	if m.Config.TLSCert != "" {
		return "https://" + m.Addr()
	}
	return "http://" + m.Addr()
}

// API is the HTTP API.
func (m *Node) API() *api.Server { return m.api }

// Log is the event log.
func (m *Node) Log() *streams.Log { return m.conn.Log() }

// Recent is the node's memory of recent events for deltas.
func (m *Node) Recent() *engine.RecentEvents { return m.recent }

// DB is the read-model database.
func (m *Node) DB() *projections.DB { return m.db }

// Done reports the HTTP server stopping on its own. Nothing else stops the
// node: a component that fails degrades it (see health) and recovers.
func (m *Node) Done() <-chan error {
	out := make(chan error, 1)
	go func() { out <- fmt.Errorf("http stopped: %w", <-m.httpDone) }()
	return out
}

// Close shuts down in order: stop accepting connections, close the
// sockets (code 4200: pusher-js reconnects, to another node in a cluster)
// while the requests in flight finish (a send waits for its projection, so
// the projector runs on), let the projector commit its batch, then close
// NATS and SQLite. The sockets get 5 s to answer their close, the requests
// 10 s.
func (m *Node) Close() error {
	var errs []error
	httpDone := make(chan error, 1)
	if m.http != nil {
		// Shutdown closes the listener at once and then waits for the
		// requests in flight; hijacked sockets are CloseRealtime's.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			httpDone <- m.http.Shutdown(ctx)
		}()
	} else {
		if m.ln != nil {
			m.ln.Close()
		}
		httpDone <- nil
	}
	if m.api != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m.api.CloseRealtime(ctx)
		cancel()
	}
	errs = append(errs, <-httpDone)
	m.sweeper.stop()
	m.stopUpgrade() // before stopOps: the rebuild reads the notifications log
	m.stopOps()
	m.projMu.Lock()
	m.closing = true
	m.stopProjector()
	m.projMu.Unlock()
	m.closeRealtime()
	if m.conn != nil {
		removeToolURL(m.Config.DataDir)
		m.conn.Close()
	}
	if m.db != nil && !m.dbClosed {
		// m.db stays set: a request that outlived the HTTP drain may still
		// read it (a closed database answers with an error).
		errs = append(errs, m.db.Close())
		m.dbClosed = true
	}
	return errors.Join(errs...)
}
