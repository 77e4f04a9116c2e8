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
// prepared once per writer connection like the messages projector's. When
// ups is set, the apply functions report there the windows their events
// opened, moved or closed (for the notifier's memory, after the commit).
type ntx struct {
	*Tx
	ups *[]notify.WindowUpdate
}

// report adds a window report when the transaction collects them.
func (t ntx) report(up notify.WindowUpdate) {
	if t.ups != nil {
		*t.ups = append(*t.ups, up)
	}
}

// applyNotification applies one NOTIFICATIONS event inside tx. It is pure
// over (event, tx): no clock, no configuration (the batching window travels
// in the event). Malformed events and second notification events of the
// same message for the same user change nothing.
func applyNotification(t ntx, ev engine.Event) error {
	switch ev.Type {
	case notify.NotificationOpened:
		var d notify.NotificationOpenedData
		if json.Unmarshal(ev.Data, &d) != nil || d.UserID == "" || d.MessageID == "" || d.MessageSeq == 0 || ev.ConversationID == "" {
			return nil
		}
		return applyNotificationOpened(t, ev, d)
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
		openSeq, lastSeq           uint64
		openID, opened, windowEnds string
	)
	found, err := t.scan(`SELECT seq, id, created_at, window_ends_at, last_message_seq FROM notifications
		WHERE user_id = ? AND conversation_id = ? AND read_at IS NULL ORDER BY seq DESC LIMIT 1`,
		[]any{d.UserID, ev.ConversationID}, &openSeq, &openID, &opened, &windowEnds, &lastSeq)
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
	if join {
		if ends, err := time.Parse(engine.TimeFormat, windowEnds); err == nil {
			t.report(notify.WindowUpdate{EventID: ev.ID.String(), Window: notify.Window{UserID: d.UserID,
				ConversationID: ev.ConversationID, Ends: ends, ID: openID}})
		}
	} else {
		t.report(notify.WindowUpdate{EventID: ev.ID.String(), Window: notify.Window{UserID: d.UserID,
			ConversationID: ev.ConversationID, Ends: windowEnd(ev.At, d.WindowMillis), ID: ev.ID.String()}})
	}
	switch {
	case join && d.MessageSeq > lastSeq:
		_, err = t.exec(`UPDATE notifications SET count = count + 1, last_message_id = ?, last_message_seq = ?,
			sender_id = ?, preview = ?, updated_at = ? WHERE seq = ?`,
			d.MessageID, d.MessageSeq, ev.ActorID, d.Preview, at, openSeq)
	case join:
		_, err = t.exec(`UPDATE notifications SET count = count + 1 WHERE seq = ?`, openSeq)
	default:
		ends := engine.FormatTime(windowEnd(ev.At, d.WindowMillis))
		_, err = t.exec(`INSERT INTO notifications (seq, id, user_id, conversation_id, message_id, last_message_id,
			last_message_seq, sender_id, preview, count, window_ends_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`,
			ev.Seq, ev.ID.String(), d.UserID, ev.ConversationID, d.MessageID, d.MessageID, d.MessageSeq,
			ev.ActorID, d.Preview, ends, at, at)
	}
	return err
}

// windowEnd is when a window of windowMillis opened at `at` ends.
func windowEnd(at time.Time, windowMillis int64) time.Time {
	return at.Add(time.Duration(max(windowMillis, 0)) * time.Millisecond)
}

// applyNotificationOpened opens the user's notification of the conversation
// at the event's message, unless the message belongs to one already open
// (the latest notification of theirs there is unread and its window holds
// the message's time: a second node or an out-of-order job opened it too).
// A notification it opens stores its window (first_seq, window_ends_at), not
// a count: the count and the last message are derived when it is read
// (notifications_queries.go), and it bounds the previous notification of
// the same user and conversation (until_seq), so no message counts twice.
//
// A message older than the first of the open notification it belongs to
// moves that notification's start back to it, unless it belongs to the
// previous notification (its time is within that one's window and before
// that one was read); a message older than the start of the latest
// notification that does not belong to it opens nothing. The
// (message, user) item is written first: when it is there already (a
// redelivery after the duplicate window), nothing else changes.
func applyNotificationOpened(t ntx, ev engine.Event, d notify.NotificationOpenedData) error {
	var (
		rSeq                uint64
		rFirst, rUntil      sql.NullInt64
		rID, rOpened, rEnds string
		rRead               sql.NullString
	)
	found, err := t.scan(`SELECT seq, id, first_seq, until_seq, created_at, window_ends_at, read_at FROM notifications
		WHERE user_id = ? AND conversation_id = ? ORDER BY seq DESC LIMIT 1`,
		[]any{d.UserID, ev.ConversationID}, &rSeq, &rID, &rFirst, &rUntil, &rOpened, &rEnds, &rRead)
	if err != nil {
		return err
	}
	msgSeq := int64(d.MessageSeq)
	join := found && !rRead.Valid && sameBatch(rOpened, rEnds, ev.At)
	older := found && rFirst.Valid && msgSeq <= rFirst.Int64 // before the latest notification's start
	target := ev.Seq
	if join || older {
		target = rSeq
	}
	n, err := t.exec(`INSERT INTO notification_items (message_id, user_id, notification_seq, seq) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, d.MessageID, d.UserID, target, ev.Seq)
	if err != nil || n == 0 {
		return err
	}
	switch {
	case join && older && msgSeq < rFirst.Int64:
		moved, err := moveStart(t, ev, d, rSeq)
		if err != nil {
			return err
		}
		if moved {
			rFirst.Int64 = msgSeq
		}
	case join, older:
	default:
		at := engine.FormatTime(ev.At)
		ends := windowEnd(ev.At, d.WindowMillis)
		if _, err := t.exec(`INSERT INTO notifications (seq, id, user_id, conversation_id, message_id, last_message_id,
			last_message_seq, sender_id, preview, count, window_ends_at, created_at, updated_at, first_seq)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', 1, ?, ?, ?, ?)`,
			ev.Seq, ev.ID.String(), d.UserID, ev.ConversationID, d.MessageID, d.MessageID, d.MessageSeq,
			ev.ActorID, engine.FormatTime(ends), at, at, d.MessageSeq); err != nil {
			return err
		}
		if found && rFirst.Valid && (!rUntil.Valid || rUntil.Int64 > msgSeq) {
			if _, err := t.exec(`UPDATE notifications SET until_seq = ? WHERE seq = ?`, d.MessageSeq, rSeq); err != nil {
				return err
			}
		}
		t.report(notify.WindowUpdate{EventID: ev.ID.String(), Window: notify.Window{ID: ev.ID.String(), UserID: d.UserID,
			ConversationID: ev.ConversationID, FirstSeq: d.MessageSeq, Ends: ends}})
		return nil
	}
	if join {
		if ends, err := time.Parse(engine.TimeFormat, rEnds); err == nil {
			first := uint64(0)
			if rFirst.Valid {
				first = uint64(rFirst.Int64)
			}
			t.report(notify.WindowUpdate{EventID: ev.ID.String(), Window: notify.Window{ID: rID, UserID: d.UserID,
				ConversationID: ev.ConversationID, FirstSeq: first, Ends: ends}})
		}
	}
	return nil
}

// moveStart moves the start of the open notification at seq back to the
// event's (older) message, unless that message belongs to the previous
// notification of the same user and conversation; the previous one then
// ends before it. It reports whether it moved.
func moveStart(t ntx, ev engine.Event, d notify.NotificationOpenedData, seq uint64) (bool, error) {
	var (
		pSeq   uint64
		pFirst sql.NullInt64
		pEnds  string
		pRead  sql.NullString
	)
	found, err := t.scan(`SELECT seq, first_seq, window_ends_at, read_at FROM notifications
		WHERE user_id = ? AND conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT 1`,
		[]any{d.UserID, ev.ConversationID, seq}, &pSeq, &pFirst, &pEnds, &pRead)
	if err != nil {
		return false, err
	}
	if found {
		closes := pEnds
		if pRead.Valid && pRead.String < closes {
			closes = pRead.String
		}
		if pFirst.Valid && int64(d.MessageSeq) <= pFirst.Int64 {
			return false, nil // older than the previous one too
		}
		if engine.FormatTime(ev.At) < closes {
			return false, nil // the previous notification's window holds it
		}
		if pFirst.Valid {
			if _, err := t.exec(`UPDATE notifications SET until_seq = ? WHERE seq = ? AND (until_seq IS NULL OR until_seq > ?)`,
				d.MessageSeq, pSeq, d.MessageSeq); err != nil {
				return false, err
			}
		}
	}
	_, err = t.exec(`UPDATE notifications SET first_seq = ?, message_id = ?, last_message_id = ?, last_message_seq = ?,
		sender_id = ? WHERE seq = ?`, d.MessageSeq, d.MessageID, d.MessageID, d.MessageSeq, ev.ActorID, seq)
	return err == nil, err
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
	t.report(notify.WindowUpdate{Read: true, Window: notify.Window{UserID: ev.ActorID}})
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
//
// With ups, the windows the batch opened, moved or closed are reported
// there (they are only true once the transaction committed).
func applyNotificationBatch(ctx context.Context, db *DB, events []engine.Event, expect *uint64, ups *[]notify.WindowUpdate) (after uint64, err error) {
	p := db.cur.Load()
	tx, err := p.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	t := ntx{Tx: &Tx{ctx: ctx, tx: tx, cache: p.nstmts, bound: map[string]*sql.Stmt{}}, ups: ups}
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
