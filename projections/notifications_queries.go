package projections

import (
	"context"
	"math"
	"strings"

	"parley/internal/notify"
)

const notificationCols = `seq, id, user_id, conversation_id, message_id, last_message_id, sender_id, preview,
	count, created_at, updated_at, read_at`

func scanNotification(r rowScanner) (*notify.Notification, error) {
	var n notify.Notification
	err := r.Scan(&n.Seq, &n.ID, &n.UserID, &n.ConversationID, &n.MessageID, &n.LastMessageID, &n.SenderID,
		&n.Preview, &n.Count, &n.CreatedAt, &n.UpdatedAt, &n.ReadAt)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// Notification returns one notification by id, or nil.
func (n *Notifications) Notification(ctx context.Context, id string) (r0 *notify.Notification, qerr error) {
	defer wrapQuery(&qerr, "notification %s", id)
	return one(scanNotification(n.db.queryRow(ctx, `SELECT `+notificationCols+` FROM notifications WHERE id = ?`, id)))
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
	rows, err := n.db.query(ctx, q, userID, beforeSeq, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []notify.Notification{}
	for rows.Next() {
		v, err := scanNotification(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, rows.Err()
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
