package realtime

import (
	"sync"
	"time"
)

// Lazy frames (Frame.Lazy) are queued at once but their client's transport
// is woken at most LazyFlush later, by one timer for the whole hub, so the
// frames of a burst leave together in one write instead of one write (one
// system call) each. A join storm on a large presence channel sends every
// member one member_added per join: woken per frame, 10,000 sockets spent
// half the server's CPU in write system calls. Order is unchanged: a lazy
// frame waits in the client's queue, and anything queued after it (a lazy
// frame's client woken for another reason) takes it along.

// DefaultLazyFlush is how long a lazy frame may wait for its client's
// transport to be woken.
const DefaultLazyFlush = 50 * time.Millisecond

// lazyNotify holds the clients with lazy frames waiting for the flush.
type lazyNotify struct {
	mu      sync.Mutex
	clients []*Client // each at most once (Client.lazy)
	armed   bool
}

// deferNotify adds c to the clients the next flush wakes, arming the
// flush. The client is listed once until the flush (Client.lazy).
func (h *Hub) deferNotify(c *Client) {
	l := &h.lazy
	l.mu.Lock()
	l.clients = append(l.clients, c)
	arm := !l.armed
	l.armed = true
	l.mu.Unlock()
	if arm {
		time.AfterFunc(h.cfg.LazyFlush, h.flushLazy)
	}
}

// flushLazy wakes every client with lazy frames waiting.
func (h *Hub) flushLazy() {
	l := &h.lazy
	l.mu.Lock()
	clients := l.clients
	l.clients, l.armed = nil, false
	l.mu.Unlock()
	for i, c := range clients {
		c.wake()
		clients[i] = nil
	}
}
