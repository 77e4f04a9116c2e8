package engine

import (
	"sync"
	"sync/atomic"
)

// DropReason says why the hub ended a client.
type DropReason string

// The reasons a client is dropped.
const (
	// ReasonSlowConsumer: the client's outbound buffer was full.
	ReasonSlowConsumer DropReason = "slow consumer: the outbound buffer is full; reconnect and catch up with delta"
	// ReasonShutdown: the node is shutting down.
	ReasonShutdown DropReason = "server shutting down; reconnect"
	// ReasonClosed: the transport closed the client itself.
	ReasonClosed DropReason = "closed"
	// ReasonTerminated: the app terminated the user's connections.
	ReasonTerminated DropReason = "connection terminated by the application"
)

// Client is one connection's place in the hub: a bounded outbound queue the
// connection's writer drains, and the channels it is subscribed to. The hub
// never blocks on a client: when its queue is full the client is dropped
// (Done closes, Reason says why) and its transport disconnects it.
type Client struct {
	id   string
	app  string
	hub  *Hub
	out  chan *Frame
	done chan struct{}
	once sync.Once
	user atomic.Pointer[string]

	reason atomic.Pointer[DropReason]

	mu       sync.Mutex
	channels map[string]struct{}
}

// ID is the client's socket id, unique across nodes with high probability.
func (c *Client) ID() string { return c.id }

// App is the id of the app the client connected to ("" for the messaging
// app).
func (c *Client) App() string { return c.app }

// UserID is the user the connection authenticated as, or "" while unknown.
func (c *Client) UserID() string {
	if u := c.user.Load(); u != nil {
		return *u
	}
	return ""
}

// Frames is the outbound queue; the connection's writer drains it.
func (c *Client) Frames() <-chan *Frame { return c.out }

// Done is closed when the hub drops the client.
func (c *Client) Done() <-chan struct{} { return c.done }

// Reason says why Done closed.
func (c *Client) Reason() DropReason {
	if r := c.reason.Load(); r != nil {
		return *r
	}
	return ""
}

// Send queues a frame for this client alone, in order with its channel
// messages. It never blocks: a full queue drops the client and returns false.
func (c *Client) Send(m *Frame) bool { return c.offer(m) }

// Channels returns the channels the client is subscribed to.
func (c *Client) Channels() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.channels))
	for ch := range c.channels {
		out = append(out, ch)
	}
	return out
}

// offer queues m without blocking.
func (c *Client) offer(m *Frame) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.out <- m:
		return true
	default:
		c.drop(ReasonSlowConsumer)
		return false
	}
}

// drop ends the client once, recording the first reason.
func (c *Client) drop(r DropReason) {
	c.once.Do(func() {
		c.reason.Store(&r)
		close(c.done)
		if r == ReasonSlowConsumer {
			c.hub.slowDrops.Add(1)
		}
	})
}

// skips reports whether m must not reach this client.
func (c *Client) skips(m *Frame) bool {
	if m.ExceptClient != "" && m.ExceptClient == c.id {
		return true
	}
	return m.ExceptUser != "" && m.ExceptUser == c.UserID()
}
