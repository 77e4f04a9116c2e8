package node

import (
	"context"
	"fmt"
	"time"
)

// attachmentSweeper deletes, now and then, the uploads no message carried
// within the TTL and those of deleted messages.
type attachmentSweeper struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// sweepEvery is how often the sweeper runs for a TTL: a quarter of it,
// between a second and ten minutes.
func sweepEvery(ttl time.Duration) time.Duration {
	return min(max(ttl/4, time.Second), 10*time.Minute)
}

func (m *Node) startAttachmentSweeper() {
	ctx, cancel := context.WithCancel(context.Background())
	s := &attachmentSweeper{cancel: cancel, done: make(chan struct{})}
	m.sweeper = s
	go func() {
		defer close(s.done)
		t := time.NewTicker(sweepEvery(m.Config.AttachmentTTL))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if n, err := m.SweepAttachments(ctx); err != nil && ctx.Err() == nil {
					m.Logger.Warn("attachment sweep", "deleted", n, "err", err)
				} else if n > 0 {
					m.Logger.Info("attachment sweep", "deleted", n)
				}
			}
		}
	}()
}

// stop ends the sweeper and waits for it (nothing when it never started).
func (s *attachmentSweeper) stop() {
	if s == nil {
		return
	}
	s.cancel()
	<-s.done
}

// SweepAttachments deletes the uploads no message carried within
// --attachment-ttl and those of deleted messages, and says how many.
// It sweeps only once this node's read model has caught up with the log:
// the object store is the cluster's, and an upload a message carries in an
// event not applied here yet looks unused.
func (m *Node) SweepAttachments(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	last, err := m.conn.Log().LastSeq(ctx)
	if err != nil {
		return 0, err
	}
	if m.db.Applied() < last {
		return 0, fmt.Errorf("the read model is at seq %d of %d: not sweeping until it catches up", m.db.Applied(), last)
	}
	return m.svc.SweepAttachments(ctx, m.Config.AttachmentTTL)
}
