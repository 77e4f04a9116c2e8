package projections

import (
	"context"
	"sync"
	"sync/atomic"
)

// watermark is a projector's applied sequence: one writer moves it forward
// after each commit, any number of readers load it or wait for it to reach
// a sequence. A wait costs nothing while it waits: every move closes the
// channel the waiters hold and makes a new one.
type watermark struct {
	seq     atomic.Uint64
	mu      sync.Mutex
	advance chan struct{} // closed and replaced whenever seq moves
}

func newWatermark(seq uint64) *watermark {
	w := &watermark{advance: make(chan struct{})}
	w.seq.Store(seq)
	return w
}

// Load is the current sequence.
func (w *watermark) Load() uint64 { return w.seq.Load() }

// Set publishes seq and wakes every waiter.
func (w *watermark) Set(seq uint64) {
	w.seq.Store(seq)
	w.mu.Lock()
	close(w.advance)
	w.advance = make(chan struct{})
	w.mu.Unlock()
}

// Wait blocks until the sequence is at least seq or ctx ends.
func (w *watermark) Wait(ctx context.Context, seq uint64) error {
	for {
		w.mu.Lock()
		ch := w.advance
		w.mu.Unlock()
		if w.seq.Load() >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
