package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// seqReads shares reads of the log's last sequence between lookups that
// miss at the same time, so a flood of misses (unknown ids, channel auth
// by outsiders) costs the log one read at a time rather than one each.
//
// A lookup may only use a read that began after the lookup did: that
// read's answer covers every write acknowledged before the lookup began,
// as its own read would. A lookup that comes while a read older than
// itself is in flight waits for the next one, which starts as soon as the
// one in flight ends, for everybody waiting. One read runs at a time.
type seqReads struct {
	read    func(context.Context) (uint64, error)
	timeout time.Duration // of one read

	started atomic.Uint64 // reads begun so far: a lookup's ticket
	mu      sync.Mutex
	cur     *seqRead // in flight
	next    *seqRead // to start when cur ends; nil when nobody waits for it
}

// seqRead is one read of the last sequence; done closes when it has its
// answer.
type seqRead struct {
	id      uint64 // its place among the reads begun, set when it begins
	joiners int    // lookups waiting for it
	done    chan struct{}
	last    uint64
	err     error
}

// ticket is read when a lookup begins.
func (r *seqReads) ticket() uint64 { return r.started.Load() }

// last returns the log's last sequence from a read begun after ticket
// was read, waiting at most the read timeout (twice that when a read in
// flight is too old to share) or until ctx ends.
func (r *seqReads) last(ctx context.Context, ticket uint64) (uint64, error) {
	r.mu.Lock()
	var c *seqRead
	switch {
	case r.cur == nil:
		c = r.begin(&seqRead{done: make(chan struct{})})
	case r.cur.id > ticket:
		c = r.cur
	default:
		if r.next == nil {
			r.next = &seqRead{done: make(chan struct{})}
		}
		c = r.next
	}
	c.joiners++
	r.mu.Unlock()
	// Each read has its own deadline; this one only guards against a read
	// that overstays it.
	t := time.NewTimer(2*r.timeout + r.timeout/2)
	defer t.Stop()
	var err error
	select {
	case <-c.done:
		return c.last, c.err
	case <-ctx.Done():
		err = ctx.Err()
	case <-t.C:
		err = context.DeadlineExceeded
	}
	r.mu.Lock()
	c.joiners-- // a next read nobody waits for any more is not started
	r.mu.Unlock()
	return 0, err
}

// begin starts c as the read in flight; r.mu is held.
func (r *seqReads) begin(c *seqRead) *seqRead {
	c.id = r.started.Add(1)
	r.cur = c
	go r.run(c)
	return c
}

// run reads, answers c's lookups, and starts the next read if anybody
// waits for one. The read runs on its own deadline, not a lookup's
// context (its lookups may come and go): it must honour that deadline,
// or every lookup would wait on it.
func (r *seqReads) run(c *seqRead) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	c.last, c.err = r.read(ctx)
	cancel()
	r.mu.Lock()
	r.cur = nil
	if n := r.next; n != nil {
		r.next = nil
		if n.joiners > 0 {
			r.begin(n)
		}
	}
	r.mu.Unlock()
	close(c.done)
}
