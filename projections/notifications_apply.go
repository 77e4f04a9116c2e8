package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"parley/engine"
	"parley/internal/notify"
)

// NotificationsCheckpoint is the notifications projector's row in checkpoints.
const NotificationsCheckpoint = "notifications"

// ntx is one notifications-projector transaction, with its statements
// prepared once per writer connection like the messages projector's.
type ntx struct{ *Tx }

// applyNotification applies one NOTIFICATIONS event inside tx. It is pure
// over (event, tx): no clock, no configuration (the batching window travels
// in the event). Malformed events and second notifications of the same
// message for the same user change nothing.
func applyNotification(t ntx, ev engine.Event) error {
	switch ev.Type {
	case notify.NotificationCreated:
		var d notify.NotificationCreatedData
		if json.Unmarshal(ev.Data, &d) != nil || d.UserID == "" || d.MessageID == "" || ev.ConversationID == "" {
			return nil
		}
		return applyNotificationCreated(t, ev, d)
	case notify.NotificationsRead:
		var d notify.NotificationsReadData
		if json.Unmarshal(ev.Data, &d) != nil || ev.ActorID == "" {
			return nil
		}
		return applyNotificationsRead(t, ev, d)
	case notify.DeadLettered:
		var d notify.DeadLetteredData
		if json.Unmarshal(ev.Data, &d) != nil || d.Kind == "" || d.Ref == "" {
			return nil
		}
		_, err := t.exec(`INSERT OR IGNORE INTO dead_letters (seq, id, kind, ref, user_id, attempts, last_error, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			ev.Seq, ev.ID.String(), d.Kind, d.Ref, d.UserID, d.Attempts, d.LastError, engine.FormatTime(ev.At))
		return err
	}
	return nil
}

// applyNotificationCreated opens a notification, or collapses the message
// into the user's unread notification of the conversation while that one's
// window lasts (engine.SameBatch). The (message, user) item is written
// before the notification: when it is there already (a redelivery after the
// duplicate window), nothing else changes.
func applyNotificationCreated(t ntx, ev engine.Event, d notify.NotificationCreatedData) error {
	var (
		openSeq, lastSeq   uint64
		opened, windowEnds string
	)
	found, err := t.scan(`SELECT seq, created_at, window_ends_at, last_message_seq FROM notifications
		WHERE user_id = ? AND conversation_id = ? AND read_at IS NULL ORDER BY seq DESC LIMIT 1`,
		[]any{d.UserID, ev.ConversationID}, &openSeq, &opened, &windowEnds, &lastSeq)
	if err != nil {
		return err
	}
	join := found && sameBatch(opened, windowEnds, ev.At)
	if !join {
		openSeq = ev.Seq
	}
	n, err := t.exec(`INSERT INTO notification_items (message_id, user_id, notification_seq, seq) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, d.MessageID, d.UserID, openSeq, ev.Seq)
	if err != nil || n == 0 {
		return err
	}
	at := engine.FormatTime(ev.At)
	switch {
	case join && d.MessageSeq > lastSeq:
		_, err = t.exec(`UPDATE notifications SET count = count + 1, last_message_id = ?, last_message_seq = ?,
			sender_id = ?, preview = ?, updated_at = ? WHERE seq = ?`,
			d.MessageID, d.MessageSeq, ev.ActorID, d.Preview, at, openSeq)
	case join:
		_, err = t.exec(`UPDATE notifications SET count = count + 1 WHERE seq = ?`, openSeq)
	default:
		ends := engine.FormatTime(ev.At.Add(time.Duration(max(d.WindowMillis, 0)) * time.Millisecond))
		_, err = t.exec(`INSERT INTO notifications (seq, id, user_id, conversation_id, message_id, last_message_id,
			last_message_seq, sender_id, preview, count, window_ends_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`,
			ev.Seq, ev.ID.String(), d.UserID, ev.ConversationID, d.MessageID, d.MessageID, d.MessageSeq,
			ev.ActorID, d.Preview, ends, at, at)
	}
	return err
}

// sameBatch is engine.SameBatch over the stored times.
func sameBatch(opened, windowEnds string, at time.Time) bool {
	o, err1 := time.Parse(engine.TimeFormat, opened)
	e, err2 := time.Parse(engine.TimeFormat, windowEnds)
	return err1 == nil && err2 == nil && notify.SameBatch(o, e, at)
}

// applyNotificationsRead marks the actor's notifications read: the listed
// ones, or (All) every one the stream held before this event.
func applyNotificationsRead(t ntx, ev engine.Event, d notify.NotificationsReadData) error {
	at := engine.FormatTime(ev.At)
	if d.All {
		_, err := t.exec(`UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL AND seq < ?`,
			at, ev.ActorID, ev.Seq)
		return err
	}
	for _, id := range d.IDs {
		if _, err := t.exec(`UPDATE notifications SET read_at = ? WHERE id = ? AND user_id = ? AND read_at IS NULL`,
			at, id, ev.ActorID); err != nil {
			return err
		}
	}
	return nil
}

// errCheckpointMoved means the database's notifications checkpoint is not
// where the projector left it: another file was swapped in.
var errCheckpointMoved = errors.New("the notifications checkpoint moved under the projector")

// applyNotificationBatch applies events in one transaction on db's writer,
// skipping those at or below the checkpoint it finds there, and commits the
// new checkpoint with them. With expect, a checkpoint other than *expect
// changes nothing and is errCheckpointMoved. It returns the new checkpoint.
func applyNotificationBatch(ctx context.Context, db *DB, events []engine.Event, expect *uint64) (after uint64, err error) {
	p := db.cur.Load()
	tx, err := p.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	t := ntx{&Tx{ctx: ctx, tx: tx, cache: p.nstmts, bound: map[string]*sql.Stmt{}}}
	var before uint64
	if _, err := t.scan(`SELECT coalesce((SELECT seq FROM checkpoints WHERE name = ?), 0)`,
		[]any{NotificationsCheckpoint}, &before); err != nil {
		return 0, err
	}
	if expect != nil && *expect != before {
		return 0, errCheckpointMoved
	}
	after = before
	for _, ev := range events {
		if ev.Seq <= after {
			continue
		}
		if err := applyNotification(t, ev); err != nil {
			return 0, fmt.Errorf("apply notifications seq %d (%s): %w", ev.Seq, ev.Type, err)
		}
		after = ev.Seq
	}
	if after == before {
		return after, nil
	}
	if _, err := t.exec(`INSERT INTO checkpoints (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq`,
		NotificationsCheckpoint, after); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit notifications through seq %d: %w", after, err)
	}
	p.committed(len(events))
	_ = p.nstmts.promote(ctx) // a statement left unprepared is prepared in its next transaction
	return after, nil
}
