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
	// Replicas for the streams; 0 means 1.
	Replicas int
	// DuplicateWindow is how long the stream remembers Nats-Msg-Ids.
	DuplicateWindow time.Duration
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
}

// Conn is an open connection to JetStream, embedded or external.
type Conn struct {
	ns     *server.Server
	nc     *nats.Conn
	js     jetstream.JetStream
	log    *Log
	done   chan struct{} // closed when nc is closed
	closed bool
}

// Open starts the embedded server (unless cfg.URL is set), connects and
// makes sure the streams exist.
func Open(ctx context.Context, cfg Config) (*Conn, error) {
	c := &Conn{done: make(chan struct{})}
	opts := []nats.Option{nats.Name("parley"), nats.MaxReconnects(-1), nats.ClosedHandler(func(*nats.Conn) { close(c.done) })}
	var err error
	if cfg.URL != "" {
		if cfg.NoReconnect {
			opts = append(opts, nats.NoReconnect(), nats.Timeout(2*time.Second))
		}
		c.nc, err = nats.Connect(cfg.URL, opts...)
	} else {
		c.ns, err = startEmbedded(cfg)
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
		SyncAlways:             cfg.SyncAlways,
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

// Log returns the MESSAGES stream as an engine.Log.
func (c *Conn) Log() *Log { return c.log }

// Close drains the connection and stops the embedded server.
func (c *Conn) Close() {
	if c.closed {
		return
	}
	c.closed = true
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
