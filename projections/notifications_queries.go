package projections

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strings"
	"time"

	"parley/engine"
	"parley/internal/notify"
)

const notificationCols = `seq, id, user_id, conversation_id, message_id, last_message_id, sender_id, preview,
	count, created_at, updated_at, read_at, window_ends_at, first_seq, until_seq`

// notificationRow is a notifications row: the notification as stored, and
// for a window (first_seq set) what deriving it needs.
type notificationRow struct {
	notify.Notification
	firstSeq, untilSeq sql.NullInt64
}

func scanNotification(r rowScanner) (*notificationRow, error) {
	var n notificationRow
	err := r.Scan(&n.Seq, &n.ID, &n.UserID, &n.ConversationID, &n.MessageID, &n.LastMessageID, &n.SenderID,
		&n.Preview, &n.Count, &n.CreatedAt, &n.UpdatedAt, &n.ReadAt, &n.WindowEndsAt, &n.firstSeq, &n.untilSeq)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// Notification returns one notification by id, or nil.
func (n *Notifications) Notification(ctx context.Context, id string) (r0 *notify.Notification, qerr error) {
	defer wrapQuery(&qerr, "notification %s", id)
	tx, err := n.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	row, err := one(scanNotification(tx.row(ctx, `SELECT `+notificationCols+` FROM notifications WHERE id = ?`, id)))
	if err != nil || row == nil {
		return nil, err
	}
	if err := deriveWindow(ctx, tx, row); err != nil {
		return nil, err
	}
	return &row.Notification, nil
}

// Notifications returns up to limit of the user's notifications with a seq
// below beforeSeq (0: from the newest), newest first.
func (n *Notifications) Notifications(ctx context.Context, userID string, unreadOnly bool, beforeSeq uint64, limit int) (r0 []notify.Notification, qerr error) {
	defer wrapQuery(&qerr, "notifications of %s", userID)
	if beforeSeq == 0 {
		beforeSeq = math.MaxInt64
	}
	q := `SELECT ` + notificationCols + ` FROM notifications WHERE user_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`
	if unreadOnly {
		q = strings.Replace(q, "seq < ?", "seq < ? AND read_at IS NULL", 1)
	}
	tx, err := n.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	st, err := tx.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, userID, beforeSeq, limit)
	if err != nil {
		return nil, err
	}
	var list []*notificationRow
	for rows.Next() {
		v, err := scanNotification(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		list = append(list, v)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]notify.Notification, 0, len(list))
	for _, v := range list {
		if err := deriveWindow(ctx, tx, v); err != nil {
			return nil, err
		}
		out = append(out, v.Notification)
	}
	return out, nil
}

// deriveWindow fills in the count and the last message of a notification
// that stores its window (first_seq set; one made by notification.created
// stores its count and is left as it is), from the conversation's messages
// in the same read transaction.
//
// The window's messages are those from its first message up to (not
// including) until_seq, the first message of the user's next notification
// of the conversation, and up to the first message sent at or after the
// window's end, or after the notification was read. When the user is no
// longer a member who joined before the first message, only the first
// message is the window's. Count is the window's messages from others that
// are not deleted, and the last message, its sender, preview and time are
// the newest of them (the first message's sender, no preview and the
// notification's own time when there is none).
//
// It reads the window's messages: its cost follows the messages the window
// holds (bounded by the window's length), not the conversation's history.
func deriveWindow(ctx context.Context, tx *readTx, n *notificationRow) error {
	if !n.firstSeq.Valid {
		return nil
	}
	first := n.firstSeq.Int64
	until := int64(math.MaxInt64)
	if n.untilSeq.Valid {
		until = n.untilSeq.Int64
	}
	var joined int64
	err := tx.row(ctx, `SELECT joined_seq FROM participants WHERE conversation_id = ? AND user_id = ?`,
		n.ConversationID, n.UserID).Scan(&joined)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		until = first + 1
	case err != nil:
		return err
	case joined >= first:
		until = first + 1
	}
	closes := n.WindowEndsAt
	if n.ReadAt != nil && *n.ReadAt < closes {
		closes = *n.ReadAt
	}
	st, err := tx.stmt(ctx, `SELECT seq, id, sender_id, created_at, deleted_at IS NOT NULL FROM messages
		WHERE conversation_id = ? AND seq >= ? AND seq < ? ORDER BY seq`)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, n.ConversationID, first, until)
	if err != nil {
		return err
	}
	var (
		count, lastSeq             int64
		lastID, lastSender, lastAt string
		seq                        int64
		id, sender, at             string
		deleted                    bool
	)
	for rows.Next() {
		if err := rows.Scan(&seq, &id, &sender, &at, &deleted); err != nil {
			rows.Close()
			return err
		}
		if seq != first && at >= closes {
			break
		}
		if sender == n.UserID || deleted {
			continue
		}
		count++
		lastSeq, lastID, lastSender, lastAt = seq, id, sender, at
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return err
	}
	n.Count = count
	n.LastMessageID, n.Preview, n.UpdatedAt = n.MessageID, "", n.CreatedAt
	if count == 0 {
		return nil
	}
	var body string
	if err := tx.row(ctx, `SELECT body FROM messages WHERE seq = ?`, lastSeq).Scan(&body); err != nil {
		return err
	}
	n.LastMessageID, n.SenderID, n.Preview, n.UpdatedAt = lastID, lastSender, notify.Preview(body), lastAt
	return nil
}

// OpenWindows returns the conversation's unread notifications whose window
// ends after endsAfter: what the notifier's memory of windows loads.
func (n *Notifications) OpenWindows(ctx context.Context, conversationID string, endsAfter time.Time) (r0 []notify.Window, qerr error) {
	defer wrapQuery(&qerr, "open notification windows of %s", conversationID)
	rows, err := n.db.query(ctx, `SELECT id, user_id, coalesce(first_seq, 0), window_ends_at FROM notifications
		WHERE conversation_id = ? AND read_at IS NULL AND window_ends_at > ? ORDER BY seq`,
		conversationID, engine.FormatTime(endsAfter))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []notify.Window
	for rows.Next() {
		w := notify.Window{ConversationID: conversationID}
		var ends string
		if err := rows.Scan(&w.ID, &w.UserID, &w.FirstSeq, &ends); err != nil {
			return nil, err
		}
		if w.Ends, err = time.Parse(engine.TimeFormat, ends); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// WaitMessagesApplied blocks until the messages projection of the same
// database has applied seq or ctx ends: a notification's window is derived
// from the messages.
func (n *Notifications) WaitMessagesApplied(ctx context.Context, seq uint64) error {
	return n.db.WaitApplied(ctx, seq)
}

// UnreadNotifications counts the user's unread notifications.
func (n *Notifications) UnreadNotifications(ctx context.Context, userID string) (r0 int64, qerr error) {
	defer wrapQuery(&qerr, "unread notifications of %s", userID)
	var c int64
	err := n.db.queryRow(ctx, `SELECT count(*) FROM notifications WHERE user_id = ? AND read_at IS NULL`, userID).Scan(&c)
	return c, err
}

// UnreadAmong counts how many of ids are unread notifications of the user.
func (n *Notifications) UnreadAmong(ctx context.Context, userID string, ids []string) (r0 int64, qerr error) {
	defer wrapQuery(&qerr, "unread notifications of %s among %d", userID, len(ids))
	var total int64
	for _, id := range ids {
		var c int64
		if err := n.db.queryRow(ctx, `SELECT count(*) FROM notifications WHERE id = ? AND user_id = ? AND read_at IS NULL`,
			id, userID).Scan(&c); err != nil {
			return 0, err
		}
		total += c
	}
	return total, nil
}

// DeadLetters returns up to limit dead letters with a seq below beforeSeq
// (0: from the newest), newest first.
func (n *Notifications) DeadLetters(ctx context.Context, beforeSeq uint64, limit int) (r0 []notify.DeadLetter, qerr error) {
	defer wrapQuery(&qerr, "dead letters before seq %d", beforeSeq)
	if beforeSeq == 0 {
		beforeSeq = math.MaxInt64
	}
	rows, err := n.db.query(ctx, `SELECT seq, id, kind, ref, user_id, attempts, last_error, at FROM dead_letters
		WHERE seq < ? ORDER BY seq DESC LIMIT ?`, beforeSeq, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []notify.DeadLetter{}
	for rows.Next() {
		var d notify.DeadLetter
		if err := rows.Scan(&d.Seq, &d.ID, &d.Kind, &d.Ref, &d.UserID, &d.Attempts, &d.LastError, &d.At); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeadLetterCount is the number of dead letters stored.
func (n *Notifications) DeadLetterCount(ctx context.Context) (r0 int64, qerr error) {
	defer wrapQuery(&qerr, "dead letter count")
	var c int64
	err := n.db.queryRow(ctx, `SELECT count(*) FROM dead_letters`).Scan(&c)
	return c, err
}
