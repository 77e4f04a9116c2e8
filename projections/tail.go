package projections

import (
	"context"
	"errors"
	"time"

	"parley/engine"
)

// TailFunc delivers the log's events from sequence from onwards, in order,
// until ctx ends. streams.Log.Tail is one.
type TailFunc func(ctx context.Context, from uint64, out chan<- engine.Event) error

// idleCheck is how often tailBatches asks whether to stop while no event
// arrives.
const idleCheck = 500 * time.Millisecond

// sideWork is work a projector does on its goroutine between batches: run
// when due says it is due (at once, when it is due now and no event waits or
// the last turn applied a batch; after due's wait otherwise), or when nudge
// asks.
type sideWork struct {
	due   func() (time.Duration, bool)
	run   func(context.Context) error
	nudge <-chan struct{}
}

// tailLoop shapes tailBatches' loop.
type tailLoop struct {
	max  int           // the most events in one batch
	stop func() bool   // optional: asked every idleCheck while idle; true ends the loop
	side *sideWork     // optional: work between batches
	gap  time.Duration // the least time from one batch's start to the next's, while busy
}

// tailBatches is the loop both projectors run: it tails the log from seq
// from and hands apply each batch of the events that have arrived, at most
// opts.max at a time, in order, doing opts.side's work (optional) between
// batches. With opts.gap, a batch that would start within gap of the last
// one's start gathers the events arriving until then: while events arrive
// faster than the batches commit, each commit carries more of them (a
// commit's cost is mostly its pages, not its events), and the first event
// after a quiet spell is applied at once. It returns nil when ctx ends or
// opts.stop says so; an error when the tail ends, or apply or the side work
// fails. apply and the side work run without ctx's cancellation, so a batch
// in hand when ctx ends is still committed.
func tailBatches(ctx context.Context, tail TailFunc, from uint64, opts tailLoop, apply func(context.Context, []engine.Event) error) error {
	max, stop, side := opts.max, opts.stop, opts.side
	tailCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := make(chan engine.Event, 2*max)
	tailErr := make(chan error, 1)
	go func() { tailErr <- tail(tailCtx, from, in) }()
	var tick <-chan time.Time
	if stop != nil {
		t := time.NewTicker(idleCheck)
		defer t.Stop()
		tick = t.C
	}
	var sideTimer *time.Timer
	var nudge <-chan struct{}
	if side != nil {
		sideTimer = time.NewTimer(time.Hour)
		sideTimer.Stop()
		defer sideTimer.Stop()
		nudge = side.nudge
	}
	applied := false        // the last turn applied a batch
	var lastStart time.Time // when the last batch started
	batch := make([]engine.Event, 0, max)
	for {
		batch = batch[:0]
		var sideDue <-chan time.Time
		if side != nil && ctx.Err() == nil {
			if wait, ok := side.due(); ok {
				switch {
				case wait <= 0 && (applied || len(in) == 0):
					applied = false
					if err := side.run(context.WithoutCancel(ctx)); err != nil {
						return &ApplyError{Err: err}
					}
					continue
				case wait > 0:
					sideTimer.Reset(wait)
					sideDue = sideTimer.C
				}
				// Due, but events wait and the last turn was side work:
				// the events go first, and the work after them.
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-tailErr:
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				err = errors.New("the log's tail ended")
			}
			return err
		case <-tick:
			if stop() {
				return nil
			}
			continue
		case <-sideDue:
			applied = true // let the work run now, events waiting or not
			continue
		case <-nudge:
			if err := side.run(context.WithoutCancel(ctx)); err != nil {
				return &ApplyError{Err: err}
			}
			applied = false
			continue
		case ev := <-in:
			batch = append(batch, ev)
		}
		if sideDue != nil {
			sideTimer.Stop()
		}
	drain:
		for len(batch) < max {
			select {
			case ev := <-in:
				batch = append(batch, ev)
			default:
				break drain
			}
		}
		if wait := opts.gap - time.Since(lastStart); len(batch) < max && wait > 0 {
			batch = gather(in, batch, max, wait)
		}
		lastStart = time.Now()
		if err := apply(context.WithoutCancel(ctx), batch); err != nil {
			return &ApplyError{Err: err}
		}
		applied = true
	}
}

// gather adds to batch the events arriving on in within wait, up to max.
func gather(in <-chan engine.Event, batch []engine.Event, max int, wait time.Duration) []engine.Event {
	t := time.NewTimer(wait)
	defer t.Stop()
	for len(batch) < max {
		select {
		case ev := <-in:
			batch = append(batch, ev)
		case <-t.C:
			return batch
		}
	}
	return batch
}

// ApplyError is a batch that failed to apply and was rolled back (SQLite
// could not write it), as opposed to a failure of the log's tail.
type ApplyError struct{ Err error }

func (e *ApplyError) Error() string { return e.Err.Error() }

// Unwrap returns the apply function's error.
func (e *ApplyError) Unwrap() error { return e.Err }
