package pusher

import (
	"net"
	"sync"
	"syscall"
	"time"
)

// batchConn is a socket whose writes can be held and sent together. The
// writer holds them while it drains what is queued for the socket and sends
// them when it is done (or when wsBatchMax bytes are held), so a burst of
// frames (a presence join storm, a busy conversation, a replay) leaves in
// one system call instead of one per frame. Outside a batch, writes go
// straight through. The held bytes live in a pooled buffer only for the
// time of a batch: an idle socket holds none.
type batchConn struct {
	net.Conn

	mu   sync.Mutex
	held *[]byte // non-nil while a batch is open
	err  error   // the first failed write of the batch
}

// wsBatchMax bounds the bytes a batch holds before it sends them.
const wsBatchMax = 32 << 10

var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, wsBatchMax); return &b }}

// Write holds p while a batch is open, else writes it.
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held == nil {
		return c.Conn.Write(p)
	}
	if c.err != nil {
		return 0, c.err
	}
	if len(*c.held)+len(p) > wsBatchMax {
		if err := c.sendLocked(); err != nil {
			return 0, err
		}
		if len(p) > wsBatchMax {
			n, err := c.Conn.Write(p)
			c.err = err
			return n, err
		}
	}
	*c.held = append(*c.held, p...)
	return len(p), nil
}

// begin opens a batch; writes are held until end.
func (c *batchConn) begin() {
	c.mu.Lock()
	if c.held == nil {
		c.held, c.err = batchBufs.Get().(*[]byte), nil
	}
	c.mu.Unlock()
}

// end sends what the batch holds, within deadline, and closes it; it
// returns the batch's first write error (the held frames may not have
// reached the client). The deadline is set under the batch's lock, so a
// pong the library writes meanwhile, with its own 1 s deadline, cannot
// shorten the flush.
func (c *batchConn) end(deadline time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held == nil {
		return nil
	}
	if len(*c.held) > 0 && c.err == nil {
		_ = c.Conn.SetWriteDeadline(deadline)
	}
	err := c.sendLocked()
	*c.held = (*c.held)[:0]
	batchBufs.Put(c.held)
	c.held = nil
	return err
}

func (c *batchConn) sendLocked() error {
	if c.err == nil && len(*c.held) > 0 {
		_, c.err = c.Conn.Write(*c.held)
	}
	*c.held = (*c.held)[:0]
	return c.err
}

// SetWriteDeadline sets the socket's write deadline, unless a batch is
// being sent (end sets its own).
func (c *batchConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

// SyscallConn exposes the socket underneath (waitReadable polls it).
func (c *batchConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, syscall.EINVAL
}
