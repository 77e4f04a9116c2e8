package projections

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"parley/engine"
	"parley/internal/notify"
)

// Notifications is the notifications read model over a DB: its queries, its
// checkpoint and the projector that follows the NOTIFICATIONS stream. It
// implements engine.NotificationStore.
//
// The projector keeps its position in the database (the "notifications"
// checkpoint row) and checks it in every transaction, so when a background
// rebuild swaps in a new database file it notices (the file or the
// checkpoint changed) and re-projects the stream into the new file from that
// file's checkpoint.
type Notifications struct {
	db *DB

	applied *watermark
	pause   sync.Mutex // held while a batch commits, and by a swap (Pause)

	observe func([]notify.WindowUpdate) // set before Run

	paused  func(error) // set before Run: a batch failed to apply
	resumed func()      // set before Run: a batch committed
	failing atomic.Bool // the tail failed since the last commit
}

// OnPause makes the projector report each batch that fails to apply
// (rolled back, retried from the checkpoint a second later) to paused, and
// each committed batch to resumed. Call it before Run.
func (n *Notifications) OnPause(paused func(error), resumed func()) {
	n.paused, n.resumed = paused, resumed
}

// OnWindows makes the projector report to fn, after each committed batch,
// the notification windows the batch opened, moved or closed (the
// notifier's memory). Call it before Run.
func (n *Notifications) OnWindows(fn func([]notify.WindowUpdate)) { n.observe = fn }

var (
	_ notify.NotificationStore = (*Notifications)(nil)
	_ notify.WindowStore       = (*Notifications)(nil)
)

// NewNotifications returns the notifications read model of db.
func NewNotifications(ctx context.Context, db *DB) (*Notifications, error) {
	n := &Notifications{db: db}
	cp, err := n.checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	n.applied = newWatermark(cp)
	return n, nil
}

func (n *Notifications) checkpoint(ctx context.Context) (uint64, error) {
	var seq uint64
	err := n.db.wr().QueryRowContext(ctx, `SELECT coalesce((SELECT seq FROM checkpoints WHERE name = ?), 0)`,
		NotificationsCheckpoint).Scan(&seq)
	return seq, err
}

// Applied is the last NOTIFICATIONS sequence the projector committed.
func (n *Notifications) Applied() uint64 { return n.applied.Load() }

// WaitNotificationsApplied blocks until Applied() >= seq or ctx ends.
func (n *Notifications) WaitNotificationsApplied(ctx context.Context, seq uint64) error {
	return n.applied.Wait(ctx, seq)
}

func (n *Notifications) setApplied(seq uint64) { n.applied.Set(seq) }

// notificationsBatch bounds the events per transaction.
const notificationsBatch = 1000

// Run follows the NOTIFICATIONS stream with tail from the checkpoint until
// ctx ends. Errors (a database swapped or closed under it, a lost tail) are
// logged and the projector starts again from the checkpoint a second later.
func (n *Notifications) Run(ctx context.Context, tail TailFunc, logger *slog.Logger) {
	if logger == nil {
		logger = slog.Default().With("component", "notifications-projector")
	}
	for ctx.Err() == nil {
		err := n.follow(ctx, tail)
		if ctx.Err() != nil {
			return
		}
		if err == nil || errors.Is(err, errCheckpointMoved) {
			continue // the database was swapped: start again at once
		}
		var ae *ApplyError
		switch {
		case errors.As(err, &ae) && n.paused != nil:
			n.paused(err)
		case n.failing.CompareAndSwap(false, true): // once until the next commit
			logger.Warn("notifications projector restarting", "err", err)
		}
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// follow tails from the checkpoint and applies batches until ctx ends, an
// error, or the database under it changed (nil error then: restart at once).
func (n *Notifications) follow(ctx context.Context, tail TailFunc) error {
	cp, err := n.checkpoint(ctx)
	if err != nil {
		return err
	}
	n.setApplied(cp)
	path := n.db.Path()
	swapped := func() bool { return n.db.Path() != path } // start again from the new file's checkpoint
	return tailBatches(ctx, tail, cp+1, tailLoop{max: notificationsBatch, stop: swapped}, func(ctx context.Context, batch []engine.Event) error {
		n.pause.Lock() // a swap in progress holds it: this batch then finds the new file
		defer n.pause.Unlock()
		expect := n.applied.Load()
		var ups *[]notify.WindowUpdate
		if n.observe != nil {
			ups = new([]notify.WindowUpdate)
		}
		after, err := applyNotificationBatch(ctx, n.db, batch, &expect, ups)
		if err == nil && after != expect {
			if ups != nil && len(*ups) > 0 {
				n.observe(*ups)
			}
			n.setApplied(after)
		}
		if err == nil {
			n.failing.Store(false)
			if n.resumed != nil {
				n.resumed()
			}
		}
		return err
	})
}

// Pause keeps the projector from committing until Resume: a read-model swap
// holds it from its final catch-up to the switch, so nothing is committed
// into the file being replaced after the rebuild read its last sequence.
func (n *Notifications) Pause() { n.pause.Lock() }

// Resume lets a paused projector commit again.
func (n *Notifications) Resume() { n.pause.Unlock() }

// RebuildNotifications applies the NOTIFICATIONS stream to db from its
// notifications checkpoint + 1 up to and including to, as the live
// projector would: for replay and verify.
func RebuildNotifications(ctx context.Context, db *DB, read RangeReader, to uint64) error {
	n, err := NewNotifications(ctx, db)
	if err != nil {
		return err
	}
	if n.Applied() >= to {
		return nil
	}
	return read(ctx, n.Applied()+1, to, notificationsBatch, func(evs []engine.Event) error {
		_, err := applyNotificationBatch(ctx, db, evs, nil, nil)
		return err
	})
}

// NotificationsCheckpoint reads the notifications checkpoint in the
// snapshot's transaction.
func (s *ReadSnapshot) NotificationsCheckpoint(ctx context.Context) (uint64, error) {
	var seq uint64
	err := s.Tx.QueryRowContext(ctx, `SELECT coalesce((SELECT seq FROM checkpoints WHERE name = ?), 0)`,
		NotificationsCheckpoint).Scan(&seq)
	return seq, err
}
