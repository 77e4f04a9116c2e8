package streams

import (
	"context"
	"sync"
	"testing"
	"time"

	"parley/engine"
)

// Neither the log's tail nor a range read stalls when the iterator's pull
// requests race with its reads. nats.go's iterator does not send a new
// pull request while its previous one is still being written; with pull
// requests of a few messages each and other publishers contending for the
// connection, it often runs out of messages in that window and, without
// the iterator's checks, waits for the missed-heartbeat reset (ten
// seconds) before asking again. Every event still arrives, with no gap
// near that long.
func TestReadsDoNotStallBetweenPullRequests(t *testing.T) {
	defer func(n int) { pullBatch = n }(pullBatch)
	pullBatch = 4
	ctx := context.Background()
	conn, err := Open(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const total = 4000
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := make([]engine.Event, total)
	for i := range evs {
		if evs[i], err = engine.NewEvent(engine.MessageSent, "01KAAAAAAAAAAAAAAAAAAAAAAA", "alice", at, engine.MessageSentData{Body: "hi", ClientTempID: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := conn.Log().AppendAsync(ctx, evs, 512); err != nil {
		t.Fatal(err)
	}
	busy, quiet := context.WithCancel(ctx)
	var publishers sync.WaitGroup
	defer publishers.Wait()
	defer quiet()
	for range 4 { // publishers that keep the connection's lock contended
		publishers.Go(func() {
			for busy.Err() == nil {
				_ = conn.nc.Publish("noop.contention", []byte("x"))
			}
		})
	}
	const stall = 5 * time.Second // half the missed-heartbeat reset

	t.Run("tail", func(t *testing.T) {
		tailCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		out := make(chan engine.Event, 16)
		tailErr := make(chan error, 1)
		go func() { tailErr <- conn.Log().Tail(tailCtx, 1, out) }()
		for want := uint64(1); want <= total; want++ {
			select {
			case ev := <-out:
				if ev.Seq != want {
					t.Fatalf("event at seq %d, want %d", ev.Seq, want)
				}
			case err := <-tailErr:
				t.Fatalf("the tail ended after seq %d of %d: %v", want-1, total, err)
			case <-time.After(stall):
				t.Fatalf("nothing for %v after seq %d of %d: the tail stalled", stall, want-1, total)
			}
		}
	})

	t.Run("range", func(t *testing.T) {
		readCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		var got uint64
		var stalled time.Duration
		watch := time.AfterFunc(stall, cancel) // ends a stalled read
		defer watch.Stop()
		err := conn.Log().ReadRange(readCtx, 1, total, 4, func(evs []engine.Event) error {
			for _, ev := range evs {
				if got++; ev.Seq != got {
					t.Fatalf("event at seq %d, want %d", ev.Seq, got)
				}
			}
			if !watch.Reset(stall) {
				stalled = stall
			}
			return nil
		})
		if err != nil || stalled > 0 || got != total {
			t.Fatalf("read %d of %d events (err %v): the read stalled for %v", got, total, err, stall)
		}
	})
}
