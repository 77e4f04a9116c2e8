package realtime_test

import (
	"strings"
	"testing"

	"parley/internal/realtime"
)

// TestAppWebhooksQueueBytes checks that a URL's queue is bounded by size as
// well as by count: large client events past QueueBytes are dropped and
// counted, never held.
func TestAppWebhooksQueueBytes(t *testing.T) {
	w := realtime.NewAppWebhooks([]realtime.AppHookTarget{{AppID: "a", Key: "k", Secret: []byte("s"), URLs: []string{"http://127.0.0.1:1/hooks"}}},
		realtime.AppWebhooksConfig{QueueBytes: 64 << 10})
	data := strings.Repeat("x", 1<<10)
	for range 100 {
		w.Enqueue("a", realtime.AppHookEvent{Name: realtime.HookClientEvent, Channel: "private-c", Event: "client-e", Data: data})
	}
	st := w.Stats()
	if st.Enqueued+st.Dropped != 100 || st.Enqueued > 64 || st.Enqueued < 50 {
		t.Fatalf("100 events of 1 KiB into a 64 KiB queue: %d queued, %d dropped", st.Enqueued, st.Dropped)
	}
}
