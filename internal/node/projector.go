package node

import (
	"context"
	"errors"
	"slices"
	"time"

	"parley/engine"
	"parley/projections"
)

// projRunner is one running projector.
type projRunner struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startProjector starts a projector on the current database from its
// checkpoint. Callers hold projMu, except Run before anything else runs.
//
// A projector whose batch fails (SQLite could not write: a full disk, an I/O
// error, a lock held past its busy timeout) does not stop the node: the
// batch is rolled back, the node is degraded (projector_paused, so /readyz
// fails and sends answer not_yet_projected), and a new projector starts
// again from the checkpoint after a backoff, until a batch commits. Nothing
// is applied twice or skipped: the checkpoint commits with the batch.
func (m *Node) startProjector() {
	ctx, cancel := context.WithCancel(context.Background())
	r := &projRunner{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		backoff := projectorBackoffMin
		for {
			proj := projections.NewProjector(m.db, m.conn.Log().Tail, projections.ProjectorConfig{
				OnCommit: m.projectorCommitted, OnBatch: m.feedMemory, Logger: m.Logger.With("component", "projector"),
				CommitGap: m.commitGap(),
			})
			err := proj.Run(ctx)
			if ctx.Err() != nil {
				return
			}
			var ae *projections.ApplyError
			switch {
			case errors.As(err, &ae):
				if !m.health.has(projectorComponent) {
					backoff = projectorBackoffMin
				}
				m.health.set(projectorComponent, ReasonProjectorPaused, err)
			case m.tailFailing.CompareAndSwap(false, true): // the first of a series: the next commit ends it
				backoff = projectorBackoffMin
				m.Logger.Warn("projector's tail of the log failed: following again", "err", err)
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, projectorBackoffMax)
		}
	}()
	m.proj = r
}

// The components' names in the node's health.
const (
	projectorComponent     = "messages projector"
	notificationsComponent = "notifications projector"
	logWritesComponent     = "log writes"
)

// writeLapse ends a log-writes condition that no write has renewed: with
// /readyz failing, a load balancer may send no more writes to find out.
const writeLapse = 15 * time.Second

// appendReported follows the log's append outcomes: a refused write
// degrades the node (storage_full, log_unavailable), a stored one ends it.
func (m *Node) appendReported(err error) {
	switch {
	case err == nil:
		m.health.clear(logWritesComponent)
	case errors.Is(err, engine.ErrStorageFull):
		m.health.setFor(logWritesComponent, ReasonStorageFull, err, writeLapse)
	case errors.Is(err, engine.ErrLogRefused):
		m.health.setFor(logWritesComponent, ReasonLogUnavailable, err, writeLapse)
	}
}

// The backoff between a failed projector batch and the next try, doubling
// from min to max while the failures last.
const (
	projectorBackoffMin = 100 * time.Millisecond
	projectorBackoffMax = 5 * time.Second
)

// projectorCommitted ends a projector_paused condition (a batch committed)
// and hands the batch to the realtime side.
func (m *Node) projectorCommitted(events []engine.Event) {
	m.advanced.Store(time.Now().UnixNano())
	m.health.clear(projectorComponent)
	m.tailFailing.Store(false)
	m.onCommit(events)
}

// warmRecent feeds the memory of recent events with the tail of the log
// that the read model already holds (at most engine.RecentMaxEvents events),
// as the projector applied them, before the projector starts. Without it a
// restarted node would answer every reconnecting client's delta from the
// log (about ten times the CPU of one from memory) just when they all
// reconnect. Best effort: on any error the memory stays empty, as before.
func (m *Node) warmRecent(ctx context.Context) {
	cp := m.db.Applied()
	if cp == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, warmTimeout)
	defer cancel()
	err := func() error {
		first, last, err := m.conn.Log().Bounds(ctx)
		if err != nil {
			return err
		}
		to := min(cp, last) // a log behind the read model: warm what it holds
		from := max(to-min(to, engine.RecentMaxEvents*9/10), first-min(first, 1))
		if from >= to {
			return nil
		}
		skipped, err := m.db.SkippedBetween(ctx, from, to)
		if err != nil {
			return err
		}
		// Fed in slices, as the projector feeds its batches: the memory's
		// recency follows the log, so the oldest conversations are the
		// first it drops, and the whole window is never held at once.
		prev := from
		if err := m.conn.Log().ReadRange(ctx, from+1, to, 1000, func(evs []engine.Event) error {
			end := evs[len(evs)-1].Seq
			lo, _ := slices.BinarySearch(skipped, prev+1)
			hi, _ := slices.BinarySearch(skipped, end+1)
			m.recent.Feed(prev, end, evs, skipped[lo:hi])
			prev = end
			return nil
		}); err != nil {
			return err
		}
		m.recent.Feed(prev, to, nil, nil) // nothing the log holds is left after prev
		return nil
	}()
	if err != nil {
		m.recent.Reset()
		m.Logger.Warn("recent events not loaded: deltas read the log until the memory fills", "err", err)
	}
}

// warmTimeout bounds warmRecent: a log that does not answer in time (a
// cluster still electing its leaders) leaves the memory empty rather than
// holding up the start.
const warmTimeout = 5 * time.Second

// feedMemory hands an applied batch to the in-memory views of the read
// model: recent events (deltas) and members (dispatch and notifications).
func (m *Node) feedMemory(from, last uint64, events []engine.Event, skipped []uint64) {
	m.recent.Feed(from, last, events, skipped)
	m.members.Feed(from, last, events, skipped)
}

// stopProjector stops the projector after its current batch commits.
// Callers hold projMu.
func (m *Node) stopProjector() {
	if m.proj != nil {
		m.proj.cancel()
		<-m.proj.done
		m.proj = nil
	}
}

// commitGap is the projector's commit gap: --commit-gap 0 asks for none,
// which the projector's configuration spells as a negative gap.
func (m *Node) commitGap() time.Duration {
	if m.Config.CommitGap <= 0 {
		return -1
	}
	return m.Config.CommitGap
}
