package engine

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// Lookups that miss at the same time share reads of the log's last
// sequence, but only reads that began after they did: two that began
// before the first read share it; two that began after it wait for the
// next read, which starts when the first ends, and share that; the log
// is read twice for four lookups.
func TestLastSeqReadsAreSharedButNeverOlderThanTheLookup(t *testing.T) {
	gates := []chan struct{}{make(chan struct{}), make(chan struct{})}
	var reads atomic.Int32
	r := &seqReads{timeout: time.Minute, read: func(context.Context) (uint64, error) {
		n := reads.Add(1)
		if int(n) > len(gates) {
			t.Errorf("read %d: more reads than lookups need", n)
			return 0, nil
		}
		<-gates[n-1]
		return uint64(100 * n), nil // the log grew between the reads
	}}
	type answer struct{ last uint64 }
	ask := func(ticket uint64) chan answer {
		out := make(chan answer, 1)
		go func() {
			last, err := r.last(context.Background(), ticket)
			if err != nil {
				t.Error(err)
			}
			out <- answer{last}
		}()
		return out
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	joiners := func(c func() *seqRead) func() int {
		return func() int {
			r.mu.Lock()
			defer r.mu.Unlock()
			if c() == nil {
				return 0
			}
			return c().joiners
		}
	}
	cur, next := joiners(func() *seqRead { return r.cur }), joiners(func() *seqRead { return r.next })

	early := r.ticket() // two lookups that began before any read
	a := ask(early)
	waitFor("the first read", func() bool { return reads.Load() == 1 })
	b := ask(early)
	waitFor("the second early lookup to share it", func() bool { return cur() == 2 })
	late := r.ticket() // two that began after it
	if late == early {
		t.Fatal("the ticket did not move when a read began")
	}
	c, d := ask(late), ask(late)
	waitFor("both late lookups to wait for the next read", func() bool { return next() == 2 })
	if n := reads.Load(); n != 1 {
		t.Fatalf("%d reads while one is in flight, want 1", n)
	}
	close(gates[0])
	for _, ch := range []chan answer{a, b} {
		if got := <-ch; got.last != 100 {
			t.Errorf("early lookup: %d, want the first read's 100", got.last)
		}
	}
	waitFor("the next read", func() bool { return reads.Load() == 2 })
	close(gates[1])
	for _, ch := range []chan answer{c, d} {
		if got := <-ch; got.last != 200 {
			t.Errorf("late lookup: %d, want the second read's 200", got.last)
		}
	}
	if n := reads.Load(); n != 2 {
		t.Errorf("%d reads for four lookups, want 2", n)
	}
}

// A next read that every lookup waiting for it has given up on is not
// started.
func TestLastSeqReadNobodyWaitsForIsNotStarted(t *testing.T) {
	gate := make(chan struct{})
	var reads atomic.Int32
	r := &seqReads{timeout: time.Minute, read: func(context.Context) (uint64, error) {
		if reads.Add(1) == 1 {
			<-gate
		}
		return 1, nil
	}}
	first := make(chan error, 1)
	go func() { _, err := r.last(context.Background(), r.ticket()); first <- err }()
	for deadline := time.Now().Add(10 * time.Second); reads.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the first read")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan error, 1)
	go func() { _, err := r.last(ctx, r.ticket()); left <- err }() // waits for the next read
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		r.mu.Lock()
		waiting := r.next != nil && r.next.joiners == 1
		r.mu.Unlock()
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the late lookup to wait for the next read")
		}
	}
	cancel()
	if err := <-left; err != context.Canceled {
		t.Fatalf("the lookup that gave up: %v", err)
	}
	close(gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	cur := r.cur
	r.mu.Unlock()
	if n := reads.Load(); n != 1 || cur != nil {
		t.Fatalf("%d reads (one in flight: %v), want the first only", n, cur != nil)
	}
}
