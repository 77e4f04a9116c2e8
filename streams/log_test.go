package streams_test

import (
	"context"
	"testing"
	"time"

	"parley/engine"
	"parley/streams"
)

// A batch read from the log asks for at most MaxBatchRead events, and the
// connection's synchronous queue holds all of them: a read of the largest
// batch returns every event in order, says more follow, and the next read
// returns the rest.
func TestConversationEventsLargestBatch(t *testing.T) {
	ctx := context.Background()
	conn, err := streams.Open(ctx, streams.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const conv = "01KAAAAAAAAAAAAAAAAAAAAAAA"
	total := streams.MaxBatchRead + 5
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := make([]engine.Event, total)
	for i := range evs {
		if evs[i], err = engine.NewEvent(engine.MessageSent, conv, "alice", at, engine.MessageSentData{Body: "hi", ClientTempID: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := conn.Log().AppendAsync(ctx, evs, 512); err != nil {
		t.Fatal(err)
	}
	got, more, err := conn.Log().ConversationEvents(ctx, conv, 0, total+100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != streams.MaxBatchRead || !more {
		t.Fatalf("first read: %d events (more %v), want %d and more", len(got), more, streams.MaxBatchRead)
	}
	for i, ev := range got {
		if ev.Seq != uint64(i+1) || ev.ID != evs[i].ID {
			t.Fatalf("event %d: seq %d id %s, want seq %d id %s", i, ev.Seq, ev.ID, i+1, evs[i].ID)
		}
	}
	rest, more, err := conn.Log().ConversationEvents(ctx, conv, got[len(got)-1].Seq, total)
	if err != nil || len(rest) != 5 || more || rest[4].ID != evs[total-1].ID {
		t.Fatalf("second read: %d events (more %v, err %v), want the last 5", len(rest), more, err)
	}
}
