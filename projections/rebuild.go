package projections

import (
	"context"
	"fmt"
	"slices"
	"time"

	"parley/engine"
)

// RangeReader hands fn the log's events with from <= seq <= to, in order and
// in batches. streams.Log.ReadRange is one.
type RangeReader func(ctx context.Context, from, to uint64, batch int, fn func([]engine.Event) error) error

// Progress is told how far a rebuild got.
type Progress func(done, total uint64, elapsed time.Duration)

// RebuildBatch is the number of events a rebuild applies per transaction.
const RebuildBatch = 10000

// Rebuild applies the log to db from its checkpoint + 1 (or from, when
// larger) up to and including to, with the same apply functions the live
// projector uses, in large transactions.
func Rebuild(ctx context.Context, db *DB, read RangeReader, from, to uint64, progress Progress) error {
	start := max(from, db.Applied()+1)
	if start > to {
		return createDeferredIndexes(ctx, db)
	}
	if err := dropOrphanSearchTrigger(ctx, db); err != nil {
		return err
	}
	total := to - start + 1
	// A large rebuild (larger than what the database holds already) builds
	// the secondary indexes no apply reads once, at its end.
	if total >= deferIndexMin && total >= start {
		if err := dropDeferredIndexes(ctx, db); err != nil {
			return err
		}
	}
	p := NewProjector(db, nil, ProjectorConfig{BatchMax: RebuildBatch})
	defer p.cache.close()
	began := time.Now()
	// The log is read and decoded on this goroutine while the previous batch
	// is applied on another: the two halves share the cores.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []engine.Event, 1)
	applied := make(chan error, 1)
	go func() {
		var err error
		for evs := range batches {
			if err != nil {
				continue
			}
			if err = p.ApplyBatch(ctx, evs); err != nil {
				cancel()
				continue
			}
			if progress != nil {
				progress(db.Applied()-start+1, total, time.Since(began))
			}
		}
		applied <- err
	}()
	rerr := read(rctx, start, to, RebuildBatch, func(evs []engine.Event) error {
		select {
		case batches <- slices.Clone(evs):
			return nil
		case <-rctx.Done():
			return rctx.Err()
		}
	})
	close(batches)
	if aerr := <-applied; aerr != nil {
		return fmt.Errorf("rebuild: %w", aerr)
	}
	if rerr != nil {
		return fmt.Errorf("rebuild: %w", rerr)
	}
	if got := db.Applied(); got < to {
		return fmt.Errorf("rebuild stopped at seq %d, want %d", got, to)
	}
	return createDeferredIndexes(ctx, db)
}
