package pusher

import "sync"

// wsWriters runs the writers of a server's sockets on a pool of goroutines
// that grows on demand and shrinks when idle, instead of a goroutine per
// busy socket: a presence change queues a frame for thousands of idle
// sockets at once, and a goroutine each would need thousands of stacks at
// the same moment (which the process then keeps). A socket is in the queue
// at most once (wsConn.writing), and one worker drains it at a time, so
// its frames keep their order. A worker blocked on a slow client does not
// hold the others up: while sockets wait and no worker is idle, one more
// worker is started, one at a time.
type wsWriters struct {
	mu       sync.Mutex
	cond     sync.Cond
	queue    []*wsConn // queue[head:] wait for a worker
	head     int
	idle     int  // workers waiting for a socket and not yet signalled
	spawning bool // a worker was started and has not taken a socket yet
	closed   bool // idle workers exit
}

// wsIdleWorkers is how many idle workers are kept; more exit.
const wsIdleWorkers = 8

func newWSWriters() *wsWriters {
	p := &wsWriters{}
	p.cond.L = &p.mu
	return p
}

// enqueue hands w to a worker; it never blocks.
func (p *wsWriters) enqueue(w *wsConn) {
	p.mu.Lock()
	p.queue = append(p.queue, w)
	switch {
	case p.idle > 0:
		p.idle--
		p.cond.Signal()
	case !p.spawning:
		p.spawning = true
		go p.work()
	}
	p.mu.Unlock()
}

// close lets the idle workers go; sockets queued later still get one.
func (p *wsWriters) close() {
	p.mu.Lock()
	p.closed = true
	p.idle = 0
	p.cond.Broadcast()
	p.mu.Unlock()
}

// work drains sockets until there is none left and enough workers idle.
func (p *wsWriters) work() {
	p.mu.Lock()
	p.spawning = false
	for {
		for p.head == len(p.queue) {
			if p.idle >= wsIdleWorkers || p.closed {
				p.mu.Unlock()
				return
			}
			p.idle++
			p.cond.Wait()
		}
		w := p.queue[p.head]
		p.queue[p.head] = nil
		p.head++
		if p.head == len(p.queue) {
			p.queue, p.head = p.queue[:0], 0
			if cap(p.queue) > 1024 {
				p.queue = nil
			}
		} else if p.idle == 0 && !p.spawning {
			p.spawning = true
			go p.work()
		}
		p.mu.Unlock()
		w.writeLoop()
		p.mu.Lock()
	}
}
