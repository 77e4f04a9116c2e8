package realtime

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
//
// The queue holds no memory while it is empty: it grows with what is
// queued, up to the hub's Buffer frames, and shrinks back once drained, so
// an idle connection costs a few words. The transport learns of new frames
// (and of a drop) through the function given to Notify, which lets it run a
// writer only while there is something to write.
type Client struct {
	id   string
	app  string
	hub  *Hub
	done chan struct{}
	once sync.Once
	user atomic.Pointer[string]

	reason atomic.Pointer[DropReason]

	qmu    sync.Mutex
	queue  []*Frame // queued frames are queue[head:]
	head   int
	max    int    // the hub's Buffer
	notify func() // set by Notify; called outside qmu
	lazy   bool   // in the hub's lazy flush list (hub_lazy.go)

	mu       sync.Mutex
	channels map[string]struct{}
}

// newClient returns a client of the app with an empty queue of at most max
// frames.
func newClient(h *Hub, appID string, max int) *Client {
	return &Client{id: NewSocketID(), app: appID, hub: h, max: max,
		done: make(chan struct{}), channels: map[string]struct{}{}}
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

// Notify sets fn to be called after every frame queued for the client and
// once when the hub drops it; fn must not block (it may run under the hub's
// locks), and is typically a non-blocking signal or the start of a writer.
// Call it once, before the client is used; if frames are already queued or
// the client is already dropped, fn is called at once.
func (c *Client) Notify(fn func()) {
	c.qmu.Lock()
	c.notify = fn
	pending := len(c.queue) > c.head
	c.qmu.Unlock()
	select {
	case <-c.done:
		pending = true
	default:
	}
	if pending {
		fn()
	}
}

// Next takes the oldest queued frame, or returns nil when the queue is
// empty. One goroutine at a time drains a client.
func (c *Client) Next() *Frame {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.head == len(c.queue) {
		return nil
	}
	m := c.queue[c.head]
	c.queue[c.head] = nil
	c.head++
	if c.head == len(c.queue) {
		// Drained: keep a small backing array, let a large one go.
		c.head = 0
		if cap(c.queue) > 8 {
			c.queue = nil
		} else {
			c.queue = c.queue[:0]
		}
	}
	return m
}

// Pending is the number of queued frames.
func (c *Client) Pending() int {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return len(c.queue) - c.head
}

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

// NumChannels is the number of channels the client is subscribed to.
func (c *Client) NumChannels() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.channels)
}

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

// offer queues m without blocking. A full queue drops the client.
func (c *Client) offer(m *Frame) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	c.qmu.Lock()
	if len(c.queue)-c.head >= c.max {
		c.qmu.Unlock()
		c.drop(ReasonSlowConsumer)
		return false
	}
	if c.head > 0 && len(c.queue) == cap(c.queue) {
		// Slide the queued frames to the front before growing.
		n := copy(c.queue, c.queue[c.head:])
		clear(c.queue[n:])
		c.queue, c.head = c.queue[:n], 0
	}
	c.queue = append(c.queue, m)
	fn := c.notify
	// A lazy frame waits for the flush, unless the queue is filling up.
	later := m.Lazy && fn != nil && c.hub.cfg.LazyFlush > 0 && len(c.queue)-c.head < c.max/4
	listed := c.lazy
	c.lazy = c.lazy || later
	c.qmu.Unlock()
	switch {
	case fn == nil:
	case later:
		if !listed {
			c.hub.deferNotify(c)
		}
	default:
		fn()
	}
	return true
}

// wake calls the transport's notify function if frames are queued (the
// hub's lazy flush).
func (c *Client) wake() {
	c.qmu.Lock()
	fn, pending := c.notify, len(c.queue) > c.head
	c.lazy = false // a frame queued from now on lists it again
	c.qmu.Unlock()
	if fn != nil && pending {
		fn()
	}
}

// drop ends the client once, recording the first reason.
func (c *Client) drop(r DropReason) {
	dropped := false
	c.once.Do(func() {
		c.reason.Store(&r)
		close(c.done)
		if r == ReasonSlowConsumer {
			c.hub.slowDrops.Add(1)
		}
		dropped = true
	})
	if !dropped {
		return
	}
	c.qmu.Lock()
	fn := c.notify
	c.qmu.Unlock()
	if fn != nil {
		fn()
	}
}

// skips reports whether m must not reach this client.
func (c *Client) skips(m *Frame) bool {
	if m.ExceptClient != "" && m.ExceptClient == c.id {
		return true
	}
	return m.ExceptUser != "" && m.ExceptUser == c.UserID()
}
