package realtime_test

import (
	"sync/atomic"
	"testing"
	"time"

	"parley/internal/realtime"
)

// Lazy frames are queued at once but do not wake the transport: the next
// frame that does (or the hub's flush) takes them along, in order. A queue
// a quarter full wakes it anyway.
func TestLazyFramesWaitForTheNextWake(t *testing.T) {
	h := realtime.NewHub(realtime.HubConfig{Buffer: 64, LazyFlush: time.Hour})
	c := hubClient(t, h, "u", "c")
	var calls atomic.Int64
	c.Notify(func() { calls.Add(1) })
	for i := 1; i <= 10; i++ {
		h.Publish(&realtime.Frame{Channel: "c", Seq: uint64(i), Lazy: true})
	}
	if n := calls.Load(); n != 0 || c.Pending() != 10 {
		t.Fatalf("10 lazy frames: %d wakes, %d pending; want 0 and 10", n, c.Pending())
	}
	h.Publish(&realtime.Frame{Channel: "c", Seq: 11})
	if n := calls.Load(); n != 1 {
		t.Fatalf("a frame after 10 lazy ones: %d wakes, want 1", n)
	}
	for i := 1; i <= 11; i++ {
		if f := c.Next(); f == nil || f.Seq != uint64(i) {
			t.Fatalf("frame %d: got %+v", i, f)
		}
	}
	for i := 12; i <= 27; i++ { // 16 queued: a quarter of the buffer
		h.Publish(&realtime.Frame{Channel: "c", Seq: uint64(i), Lazy: true})
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("lazy frames filling a quarter of the queue: %d wakes, want 2", n)
	}
}

// The hub's flush wakes a client whose lazy frames nothing else took along,
// within LazyFlush, and arms again for the next ones.
func TestLazyFlushWakesTheClient(t *testing.T) {
	h := realtime.NewHub(realtime.HubConfig{LazyFlush: 10 * time.Millisecond})
	c := hubClient(t, h, "u", "c")
	woken := make(chan struct{}, 16)
	c.Notify(func() { woken <- struct{}{} })
	for round := 1; round <= 2; round++ {
		for i := 1; i <= 5; i++ {
			h.Publish(&realtime.Frame{Channel: "c", Seq: uint64(i), Lazy: true})
		}
		select {
		case <-woken:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: the flush did not wake the client", round)
		}
		for i := 1; i <= 5; i++ {
			if f := c.Next(); f == nil || f.Seq != uint64(i) {
				t.Fatalf("round %d, frame %d: got %+v", round, i, f)
			}
		}
		for len(woken) > 0 { // a flush between two publishes woke it twice
			<-woken
		}
	}
}

// A negative LazyFlush wakes the transport for every frame, lazy or not.
func TestLazyFlushOff(t *testing.T) {
	h := realtime.NewHub(realtime.HubConfig{LazyFlush: -1})
	c := hubClient(t, h, "u", "c")
	var calls atomic.Int64
	c.Notify(func() { calls.Add(1) })
	h.Publish(&realtime.Frame{Channel: "c", Lazy: true})
	if n := calls.Load(); n != 1 {
		t.Fatalf("a lazy frame with the flush off: %d wakes, want 1", n)
	}
}
