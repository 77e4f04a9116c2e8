package realtime

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A key's lock keeps writes of the same (channel, user) apart but no
// other key waits for it; a waiter gives up when its context ends; the map
// forgets a key once nobody holds or awaits it.
func TestKeyLocks(t *testing.T) {
	var l keyLocks
	ctx := context.Background()
	a, b := leaseKey{"presence-messaging", "a"}, leaseKey{"presence-messaging", "b"}
	unlockA, err := l.lock(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { // another key: not held up by a's holder
		unlock, err := l.lock(ctx, b)
		if err == nil {
			unlock()
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b's lock waited for a's holder")
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := l.lock(short, a); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second lock of a held key: %v, want the context's deadline", err)
	}
	if n := lockedKeys(&l); n != 1 {
		t.Fatalf("%d keys locked, want 1 (a)", n)
	}
	waited := make(chan func(), 1)
	go func() {
		unlock, err := l.lock(ctx, a)
		if err != nil {
			t.Error(err)
		}
		waited <- unlock
	}()
	unlockA()
	select {
	case unlock := <-waited:
		unlock()
	case <-time.After(10 * time.Second):
		t.Fatal("a waiter did not get the lock its holder let go")
	}
	if n := lockedKeys(&l); n != 0 {
		t.Fatalf("%d keys left after every lock was let go", n)
	}
}

// lockedKeys is the number of keys locked or awaited.
func lockedKeys(l *keyLocks) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
