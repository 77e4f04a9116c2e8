package realtime

import (
	"context"
	"sync"
)

// keyLocks serialises the store writes of each (channel, user): one lock
// per key that somebody holds or waits for, so a join never queues behind
// another user's write. (A fixed set of 64 striped mutexes made joins of
// different users wait for each other: in a 10,000-socket join storm, a
// join could queue behind several lease writes of the refresh round, each
// slow on a busy node, and time out before its own write began.) A key's
// lock lives only while held or awaited, so the map holds at most one entry
// per write in progress.
type keyLocks struct {
	mu sync.Mutex
	m  map[leaseKey]*keyLock
}

type keyLock struct {
	ch   chan struct{} // holds one token while the lock is held
	refs int           // holders and waiters; guarded by keyLocks.mu
}

// lock takes k's lock, or gives up with ctx's error when ctx ends first.
// The caller must call the returned unlock once.
func (l *keyLocks) lock(ctx context.Context, k leaseKey) (unlock func(), err error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[leaseKey]*keyLock{}
	}
	kl := l.m[k]
	if kl == nil {
		kl = &keyLock{ch: make(chan struct{}, 1)}
		l.m[k] = kl
	}
	kl.refs++
	l.mu.Unlock()
	select {
	case kl.ch <- struct{}{}:
		return func() { <-kl.ch; l.release(k, kl) }, nil
	case <-ctx.Done():
		l.release(k, kl)
		return nil, ctx.Err()
	}
}

func (l *keyLocks) release(k leaseKey, kl *keyLock) {
	l.mu.Lock()
	if kl.refs--; kl.refs == 0 {
		delete(l.m, k)
	}
	l.mu.Unlock()
}
