// Package streams is Parley's JetStream side: the embedded nats-server, the
// MESSAGES stream, appends with deduplication, reads by sequence and the tail
// the projector follows. It is the only package that imports NATS.
package streams

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config says how to reach JetStream and how to shape the streams.
type Config struct {
	// DataDir holds the embedded server's store (DataDir/nats). Ignored with URL.
	DataDir string
	// URL, when set, connects to an external NATS JetStream cluster instead
	// of embedding a server (comma-separated for several).
	URL string
	// SyncAlways makes the embedded server fsync every write before the ack.
	SyncAlways bool
	// GroupCommit coalesces the appends that arrive together into atomic
	// batches, each stored with one fsync (see committer).
	GroupCommit bool
	// Replicas for the streams; 0 chooses: 3 on a cluster of three or more
	// servers, else 1 (Conn.Replicas tells the choice).
	Replicas int
	// DuplicateWindow is how long the stream remembers Nats-Msg-Ids.
	DuplicateWindow time.Duration
	// AppendTimeout bounds how long an append waits for the log's ack
	// before it answers engine.ErrLogRefused; 0 leaves it to the caller.
	AppendTimeout time.Duration
	// MaxLogBytes, when above 0, bounds the MESSAGES stream: a full log
	// refuses new events (engine.ErrStorageFull) and keeps every old one.
	MaxLogBytes int64
	// ServerName names the embedded server.
	ServerName string
	// Listen, when set ("127.0.0.1:0" for a random port), makes the embedded
	// server also accept TCP clients there, so tools such as `parley replay`
	// can read the log while the server runs. Token guards that port.
	Listen string
	Token  string
	// Existing binds to the streams as they are instead of creating or
	// updating them (for tools that must not change a server's config).
	Existing bool
	// NoReconnect makes a lost connection to URL final (tools).
	NoReconnect bool
	// ClusterName, ClusterListen and Routes make the embedded server a member
	// of a JetStream cluster (its client port, Listen, must be on). Routes
	// lists every member's cluster URL (nats://host:port); listing itself is
	// fine.
	ClusterName   string
	ClusterListen string
	Routes        []string
}

// clusterSize is how many servers the configuration names.
func (cfg Config) clusterSize(nc *nats.Conn) int {
	switch {
	case cfg.ClusterName != "":
		seen := map[string]bool{}
		for _, r := range cfg.Routes {
			seen[strings.TrimSpace(r)] = true
		}
		return max(len(seen), 1)
	case cfg.URL != "" && nc != nil:
		return max(len(nc.Servers()), len(strings.Split(cfg.URL, ",")))
	}
	return 1
}

// SyncQueueLen is the buffer of the connection's synchronous subscriptions:
// a Direct Get batch (a delta read from the log, a page of stats history)
// reads its answer through one, so it must hold the largest batch a reader
// asks for (MaxBatchRead messages and the end marker). nats.go's default is
// 65,536 slots, half a megabyte allocated for every batch read.
const SyncQueueLen = 8192

// MaxBatchRead is the most messages one Direct Get batch may ask for.
const MaxBatchRead = SyncQueueLen - 1

// Conn is an open connection to JetStream, embedded or external.
type Conn struct {
	ns       *server.Server
	jsConfig server.JetStreamConfig // the embedded server's, to enable it again

	bucketsMu   sync.Mutex
	buckets     map[string]jetstream.KeyValueConfig // memory buckets made, by name: a JetStream restart loses them
	nc          *nats.Conn
	js          jetstream.JetStream
	log         *Log
	groupCommit bool
	blocksRoot  string // the data dir when appends fsync the embedded server's blocks
	logsMu      sync.Mutex
	logs        []*Log         // the notifications logs opened, whose committers Close stops
	syncers     []*blockSyncer // other streams' block syncers (attachments), closed by Close
	replicas    int
	clusterSize int
	done        chan struct{} // closed when nc is closed
	closed      bool
}

// Replicas is the replica count the streams are created with.
func (c *Conn) Replicas() int { return c.replicas }

// Open starts the embedded server (unless cfg.URL is set), connects and
// makes sure the streams exist.
func Open(ctx context.Context, cfg Config) (*Conn, error) {
	c := &Conn{done: make(chan struct{})}
	opts := []nats.Option{nats.Name("parley"), nats.MaxReconnects(-1), nats.ClosedHandler(func(*nats.Conn) { close(c.done) }),
		nats.SyncQueueLen(SyncQueueLen)}
	var err error
	if cfg.URL != "" {
		if cfg.NoReconnect {
			opts = append(opts, nats.NoReconnect(), nats.Timeout(2*time.Second))
		}
		c.nc, err = nats.Connect(cfg.URL, opts...)
	} else {
		c.ns, err = startEmbedded(cfg)
		c.jsConfig = server.JetStreamConfig{StoreDir: filepath.Join(cfg.DataDir, "nats"), SyncAlways: cfg.serverSyncAlways()}
		if err == nil {
			if cfg.Token != "" {
				opts = append(opts, nats.Token(cfg.Token))
			}
			c.nc, err = nats.Connect("", append(opts, nats.InProcessServer(c.ns))...)
		}
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	c.js, err = jetstream.New(c.nc)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.clusterSize = cfg.clusterSize(c.nc)
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
		if c.clusterSize >= 3 {
			cfg.Replicas = 3
		}
	}
	c.replicas = cfg.Replicas
	// Atomic batches pay for themselves only where each publish would
	// fsync on its own: an embedded server that fsyncs (a cluster member;
	// a single node fsyncs its blocks instead) or an external one, whose
	// sync setting Parley cannot see.
	c.groupCommit = cfg.GroupCommit && (cfg.SyncAlways || cfg.URL != "") && atomicBatches(c.nc.ConnectedServerVersion())
	cfg.GroupCommit = c.groupCommit
	if cfg.syncsBlocks() {
		c.blocksRoot = cfg.DataDir
	}
	c.log, err = openLog(ctx, c.js, cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func startEmbedded(cfg Config) (*server.Server, error) {
	name := cfg.ServerName
	if name == "" {
		name = "parley"
	}
	opts := &server.Options{
		ServerName:             name,
		JetStream:              true,
		StoreDir:               filepath.Join(cfg.DataDir, "nats"),
		SyncAlways:             cfg.serverSyncAlways(),
		DontListen:             true,
		NoSigs:                 true,
		DisableJetStreamBanner: true,
	}
	if cfg.Listen != "" {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("nats listen address: %w", err)
		}
		opts.DontListen, opts.Host, opts.Port = false, host, server.RANDOM_PORT
		if port != "0" {
			if opts.Port, err = strconv.Atoi(port); err != nil {
				return nil, fmt.Errorf("nats listen port: %w", err)
			}
		}
		opts.Authorization = cfg.Token
	}
	if cfg.ClusterName != "" {
		if cfg.Listen == "" {
			return nil, errors.New("a cluster member needs its client port (Listen)")
		}
		host, port, err := net.SplitHostPort(cfg.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("cluster listen address: %w", err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("cluster listen port: %w", err)
		}
		opts.Cluster = server.ClusterOpts{Name: cfg.ClusterName, Host: host, Port: p}
		opts.Routes = server.RoutesFromStr(strings.Join(cfg.Routes, ","))
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, err
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded nats-server did not become ready")
	}
	return ns, nil
}

// ClientURL is the embedded server's TCP address ("" when it does not
// listen or is not embedded).
func (c *Conn) ClientURL() string {
	if c.ns == nil || c.ns.Addr() == nil {
		return ""
	}
	return c.ns.ClientURL()
}

// JetStreamDown reports whether the embedded server has disabled its
// JetStream, as it does when a store write finds the disk full ("JetStream
// out of space, will be DISABLED"); false for an external server.
func (c *Conn) JetStreamDown() bool { return c.ns != nil && !c.ns.JetStreamEnabled() }

// ReviveJetStream enables the embedded server's JetStream again after it
// disabled itself: the streams come back from the store, the memory buckets
// are made again (empty: presence leases come back at their next refresh),
// and the clients' consumers find them as after a restart of the server.
func (c *Conn) ReviveJetStream() error {
	if !c.JetStreamDown() {
		return nil
	}
	cfg := c.jsConfig
	if err := c.ns.EnableJetStream(&cfg); err != nil {
		return err
	}
	return c.recreateBuckets()
}

// RestartJetStream stops and starts the embedded server's JetStream, so its
// streams are loaded again from the store (and its memory buckets made
// again, empty). A stream whose store met a full
// disk keeps refusing every write until then (the file store's "critical
// write error" is sticky), even once the disk has room. No-op for an
// external server.
func (c *Conn) RestartJetStream() error {
	if c.ns == nil {
		return nil
	}
	if c.ns.JetStreamEnabled() {
		if err := c.ns.ShutdownJetStream(); err != nil {
			return err
		}
	}
	cfg := c.jsConfig
	if err := c.ns.EnableJetStream(&cfg); err != nil {
		return err
	}
	return c.recreateBuckets()
}

// memoryBucket creates (or updates) a KV bucket kept in memory, and
// remembers it so RestartJetStream can make it again: memory streams do not
// survive a restart of JetStream, and their users' watchers and writes find
// the bucket again under the same name.
func (c *Conn) memoryBucket(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := c.js.CreateOrUpdateKeyValue(ctx, cfg)
	if err != nil {
		return nil, err
	}
	c.bucketsMu.Lock()
	defer c.bucketsMu.Unlock()
	if c.buckets == nil {
		c.buckets = map[string]jetstream.KeyValueConfig{}
	}
	c.buckets[cfg.Bucket] = cfg
	return kv, nil
}

// recreateBuckets makes the remembered memory buckets again, empty.
func (c *Conn) recreateBuckets() error {
	c.bucketsMu.Lock()
	defer c.bucketsMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for _, cfg := range c.buckets {
		if _, err := c.js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			errs = append(errs, fmt.Errorf("bucket %s: %w", cfg.Bucket, err))
		}
	}
	return errors.Join(errs...)
}

// Log returns the MESSAGES stream as an engine.Log.
func (c *Conn) Log() *Log { return c.log }

// Close drains the connection and stops the embedded server.
func (c *Conn) Close() {
	if c.closed {
		return
	}
	c.closed = true
	c.log.close()
	c.logsMu.Lock()
	for _, l := range c.logs {
		l.close()
	}
	for _, s := range c.syncers {
		s.close()
	}
	c.logsMu.Unlock()
	if c.nc != nil {
		if c.nc.Drain() == nil {
			select {
			case <-c.done:
			case <-time.After(5 * time.Second):
			}
		}
		c.nc.Close()
	}
	if c.ns != nil {
		c.ns.Shutdown()
		c.ns.WaitForShutdown()
	}
}

// validToken reports whether s can be one token of a subject.
func validToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".*> \t\r\n")
}

// retry runs a stream, bucket or consumer creation until it succeeds: a
// cluster still electing leaders or waiting for peers refuses for a while.
// A single embedded server answers at once, so it is not retried there.
func (c *Conn) retry(ctx context.Context, what string, create func() error) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := create()
		if err == nil {
			return nil
		}
		if c.replicas <= 1 && c.ns != nil && c.clusterSize <= 1 || time.Now().After(deadline) {
			return fmt.Errorf("%s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// atomicBatches reports whether a server of this version stores atomic
// batches (nats-server 2.12 and later); an older one would store a batch's
// events one by one and answer only the last.
func atomicBatches(version string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(version, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 2 || major == 2 && minor >= 12
}

// syncsBlocks reports whether appends are made durable by fsyncing the
// embedded server's block files after their acks (group commit on a
// single embedded node) rather than by the server's own SyncAlways.
func (cfg Config) syncsBlocks() bool {
	return cfg.SyncAlways && cfg.GroupCommit && cfg.URL == "" && cfg.ClusterName == "" && !cfg.Existing
}

// serverSyncAlways is the embedded server's SyncAlways: off where Parley
// fsyncs the blocks itself.
func (cfg Config) serverSyncAlways() bool { return cfg.SyncAlways && !cfg.syncsBlocks() }

// blocksDir is the stream's block directory when appends fsync it, else "".
func (cfg Config) blocksDir(stream string) string {
	if !cfg.syncsBlocks() {
		return ""
	}
	return embeddedBlocks(cfg.DataDir, stream)
}
