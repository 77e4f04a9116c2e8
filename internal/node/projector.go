package node

import (
	"context"
	"fmt"

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
func (m *Node) startProjector() {
	proj := projections.NewProjector(m.db, m.conn.Log().Tail, projections.ProjectorConfig{
		OnCommit: m.onCommit, OnBatch: m.feedMemory, Logger: m.Logger.With("component", "projector"),
	})
	ctx, cancel := context.WithCancel(context.Background())
	r := &projRunner{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := proj.Run(ctx); err != nil && ctx.Err() == nil {
			select {
			case m.fail <- fmt.Errorf("projector stopped: %w", err):
			default:
			}
		}
	}()
	m.proj = r
}

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
