package realtime_test

import (
	"testing"

	"parley/internal/realtime"
)

// TestClientQueueNotify checks the client's queue as a transport sees it:
// frames come out in order, the transport's Notify runs for every frame
// queued and once for the drop, a Notify set late runs at once for what is
// already queued, and the queue holds at most the hub's Buffer frames.
func TestClientQueueNotify(t *testing.T) {
	h := realtime.NewHub(realtime.HubConfig{Buffer: 3})
	c := hubClient(t, h, "u", "c")
	h.Publish(&realtime.Frame{Channel: "c", Seq: 1})
	calls := 0
	c.Notify(func() { calls++ })
	if calls != 1 {
		t.Fatalf("Notify with a frame queued: %d calls, want 1", calls)
	}
	for i := 2; i <= 3; i++ {
		h.Publish(&realtime.Frame{Channel: "c", Seq: uint64(i)})
	}
	if calls != 3 || c.Pending() != 3 {
		t.Fatalf("after 3 frames: %d calls, %d pending", calls, c.Pending())
	}
	for i := 1; i <= 3; i++ {
		if f := c.Next(); f == nil || f.Seq != uint64(i) {
			t.Fatalf("frame %d: got %+v", i, f)
		}
	}
	if f := c.Next(); f != nil || c.Pending() != 0 {
		t.Fatalf("drained queue gave %+v, %d pending", f, c.Pending())
	}
	for i := 4; i <= 7; i++ { // the fourth in a row overflows the buffer of 3
		h.Publish(&realtime.Frame{Channel: "c", Seq: uint64(i)})
	}
	if c.Reason() != realtime.ReasonSlowConsumer || c.Pending() != 3 {
		t.Fatalf("overflow: reason %q, %d pending", c.Reason(), c.Pending())
	}
	if calls != 7 { // 3 + 3 queued + 1 drop
		t.Fatalf("after the drop: %d calls, want 7", calls)
	}
	h.Disconnect(c)
	if calls != 7 {
		t.Fatalf("a second drop notified again: %d calls", calls)
	}
}
