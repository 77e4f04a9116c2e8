package projections

import (
	"context"
	"fmt"
	"testing"
	"time"

	"parley/engine"
)

// With a gap, the first event after a quiet spell is applied at once, and
// events that arrive within the gap after a batch started wait for it and
// share the next batch.
func TestTailBatchesGatherWithinTheGap(t *testing.T) {
	const gap = time.Second
	feed := make(chan engine.Event, 10)
	tail := func(ctx context.Context, from uint64, out chan<- engine.Event) error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case ev := <-feed:
				out <- ev
			}
		}
	}
	batches := make(chan []uint64, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- tailBatches(ctx, tail, 1, tailLoop{max: 100, gap: gap}, func(_ context.Context, evs []engine.Event) error {
			var seqs []uint64
			for _, ev := range evs {
				seqs = append(seqs, ev.Seq)
			}
			batches <- seqs
			return nil
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	next := func() []uint64 {
		t.Helper()
		select {
		case b := <-batches:
			return b
		case <-time.After(10 * time.Second):
			t.Fatal("no batch")
			return nil
		}
	}
	start := time.Now()
	feed <- engine.Event{Seq: 1}
	if b := next(); fmt.Sprint(b) != "[1]" || time.Since(start) >= gap/2 {
		t.Fatalf("first batch %v after %v: want [1] at once", b, time.Since(start))
	}
	// Two events 100 ms apart, both within the gap after the first batch.
	feed <- engine.Event{Seq: 2}
	time.Sleep(100 * time.Millisecond) // the scenario: events spaced in time, not a synchronisation
	feed <- engine.Event{Seq: 3}
	if b := next(); fmt.Sprint(b) != "[2 3]" {
		t.Fatalf("second batch %v: want [2 3], gathered within the gap", b)
	}
}
