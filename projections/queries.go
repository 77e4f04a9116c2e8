package projections

import (
	json "github.com/goccy/go-json"

	"context"
	"database/sql"
	"fmt"
	"slices"

	"parley/engine"
)

// summaryCols selects a ConversationSummary; the query joins conversations c,
// the caller's unread_summary row p (their membership with its unread count)
// and the last message m.
const summaryCols = `c.id, c.kind, c.title, c.created_by, c.created_at, c.last_activity_at, c.last_activity_seq,
	c.last_event_seq, c.participant_count, p.unread_count, p.last_read_message_id, p.last_read_seq,
	(SELECT count(*) FROM mentions x WHERE x.user_id = p.user_id AND x.conversation_id = p.conversation_id AND x.message_seq > p.last_read_seq),
	p.muted, p.archived_seq, p.pinned_seq,
	m.id, m.sender_id, m.body, m.client_temp_id, m.seq, m.created_at, m.edited_at, m.deleted_at`

const summaryFrom = ` FROM unread_summary p JOIN conversations c ON c.id = p.conversation_id
	LEFT JOIN messages m ON m.seq = c.last_message_seq AND c.last_message_seq > 0 `

type rowScanner interface{ Scan(dest ...any) error }

func scanSummary(r rowScanner) (*engine.ConversationSummary, error) {
	var s engine.ConversationSummary
	var mID, mSender, mBody, mTemp, mCreated sql.NullString
	var mSeq sql.NullInt64
	var mEdited, mDeleted *string
	var set engine.MemberSettings
	var pinnedSeq uint64
	err := r.Scan(&s.ID, &s.Kind, &s.Title, &s.CreatedBy, &s.CreatedAt, &s.LastActivityAt, &s.LastActivitySeq,
		&s.LastSeq, &s.ParticipantCount, &s.UnreadCount, &s.LastReadMessageID, &s.LastReadSeq, &s.MentionCount,
		&set.Muted, &set.ArchivedSeq, &pinnedSeq,
		&mID, &mSender, &mBody, &mTemp, &mSeq, &mCreated, &mEdited, &mDeleted)
	if err != nil {
		return nil, err
	}
	s.Muted, s.Pinned, s.Archived = set.Muted, pinnedSeq > 0, set.ArchivedAt(uint64(mSeq.Int64))
	if mID.Valid {
		s.LastMessage = &engine.Message{
			ID: mID.String, ConversationID: s.ID, SenderID: mSender.String, Body: mBody.String,
			ClientTempID: mTemp.String, Seq: uint64(mSeq.Int64), CreatedAt: mCreated.String,
			EditedAt: mEdited, DeletedAt: mDeleted,
		}
	}
	return &s, nil
}

// wrapQuery names the query and its subject in an error it returns, so a
// failure that reaches the HTTP layer or the log says which read failed.
func wrapQuery(err *error, format string, args ...any) {
	if *err != nil {
		*err = fmt.Errorf(format+": %w", append(args, *err)...)
	}
}

// one turns sql.ErrNoRows into (nil, nil).
func one[T any](v *T, err error) (*T, error) {
	if err == sql.ErrNoRows {
		return nil, nil
	}
	return v, err
}

// Participant returns a user's membership, or nil.
func (db *DB) Participant(ctx context.Context, conversationID, userID string) (r0 *engine.Participant, qerr error) {
	defer wrapQuery(&qerr, "participant %s of %s", userID, conversationID)
	var p engine.Participant
	err := db.lookupRow(ctx, `SELECT user_id, joined_at, joined_seq, last_read_message_id, last_read_seq, last_read_at
		FROM participants WHERE conversation_id = ? AND user_id = ?`, conversationID, userID).
		Scan(&p.UserID, &p.JoinedAt, &p.JoinedSeq, &p.LastReadMessageID, &p.LastReadSeq, &p.LastReadAt)
	return one(&p, err)
}

// Participants lists a conversation's members in the order they joined.
func (db *DB) Participants(ctx context.Context, conversationID string) (r0 []engine.Participant, qerr error) {
	defer wrapQuery(&qerr, "participants of %s", conversationID)
	rows, err := db.query(ctx, participantsQuery, conversationID)
	if err != nil {
		return nil, err
	}
	return scanParticipants(rows)
}

const participantsQuery = `SELECT user_id, joined_at, joined_seq, last_read_message_id, last_read_seq, last_read_at, muted
		FROM participants WHERE conversation_id = ? ORDER BY joined_seq, user_id`

func scanParticipants(rows *sql.Rows) ([]engine.Participant, error) {
	defer rows.Close()
	out := []engine.Participant{}
	for rows.Next() {
		var p engine.Participant
		if err := rows.Scan(&p.UserID, &p.JoinedAt, &p.JoinedSeq, &p.LastReadMessageID, &p.LastReadSeq, &p.LastReadAt, &p.Muted); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// MessageWithParticipants reads a message and its conversation's
// participants in one read transaction (nil, nil when the message does not
// exist): what a message's notifications need, at the cost of one read.
func (db *DB) MessageWithParticipants(ctx context.Context, conversationID, messageID string) (r0 *engine.Message, r1 []engine.Participant, qerr error) {
	defer wrapQuery(&qerr, "message %s with participants of %s", messageID, conversationID)
	tx, err := db.beginRead(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	m, err := one(scanMessage(tx.row(ctx, `SELECT `+messageCols+` FROM messages WHERE id = ? AND conversation_id = ?`,
		messageID, conversationID)))
	if err != nil || m == nil {
		return nil, nil, err
	}
	s, err := tx.stmt(ctx, participantsQuery)
	if err != nil {
		return nil, nil, err
	}
	rows, err := s.QueryContext(ctx, conversationID)
	if err != nil {
		return nil, nil, err
	}
	ps, err := scanParticipants(rows)
	return m, ps, err
}

// Summary returns the conversation as userID sees it, or nil when userID is
// not a participant.
func (db *DB) Summary(ctx context.Context, conversationID, userID string) (r0 *engine.ConversationSummary, qerr error) {
	defer wrapQuery(&qerr, "summary of %s for %s", conversationID, userID)
	return one(scanSummary(db.lookupRow(ctx, `SELECT `+summaryCols+summaryFrom+
		`WHERE p.conversation_id = ? AND p.user_id = ?`, conversationID, userID)))
}

// Conversations lists userID's conversations with activity before
// beforeActivitySeq (0: from the newest), newest first.
func (db *DB) Conversations(ctx context.Context, userID string, beforeActivitySeq uint64, limit int, archived, pinned bool) (r0 []engine.ConversationSummary, qerr error) {
	defer wrapQuery(&qerr, "conversations of %s", userID)
	if beforeActivitySeq == 0 {
		beforeActivitySeq = 1<<63 - 1
	}
	// The page's conversations are chosen on their activity alone; only
	// theirs are then summed up.
	rows, err := db.query(ctx, `WITH page AS (SELECT p.conversation_id AS id, c.last_activity_seq AS activity
			FROM participants p JOIN conversations c ON c.id = p.conversation_id
			WHERE p.user_id = ?1 AND c.last_activity_seq < ?2
				AND (p.archived_seq > 0 AND c.last_message_seq < p.archived_seq) = ?4 AND (?4 OR (p.pinned_seq > 0) = ?5)
			ORDER BY c.last_activity_seq DESC LIMIT ?3)
		SELECT `+summaryCols+` FROM page JOIN unread_summary p ON p.conversation_id = page.id AND p.user_id = ?1
		JOIN conversations c ON c.id = page.id
		LEFT JOIN messages m ON m.seq = c.last_message_seq AND c.last_message_seq > 0
		ORDER BY page.activity DESC`,
		userID, beforeActivitySeq, limit, archived, pinned)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []engine.ConversationSummary{}
	for rows.Next() {
		s, err := scanSummary(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	return out, rows.Err()
}

// UnreadTotal is the user's unread messages over all their conversations.
func (db *DB) UnreadTotal(ctx context.Context, userID string) (r0 int64, qerr error) {
	defer wrapQuery(&qerr, "unread total of %s", userID)
	return scanTotal(db.lookupRow(ctx, totalQuery, userID))
}

const totalQuery = `SELECT coalesce(sum(unread_count), 0) FROM unread_summary WHERE user_id = ?`

func scanTotal(r *sql.Row) (int64, error) {
	var n int64
	err := r.Scan(&n)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return n, err
}

// DirectConversation returns the id of the direct conversation with this
// key, or "".
func (db *DB) DirectConversation(ctx context.Context, directKey string) (r0 string, qerr error) {
	defer wrapQuery(&qerr, "direct conversation %s", directKey)
	var id string
	err := db.lookupRow(ctx, `SELECT id FROM conversations WHERE direct_key = ?`, directKey).Scan(&id)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return id, err
}

// messageCols selects a Message from the table messages (not aliased): its
// quote of the message it replies to comes from that message's row, the
// first engine.QuoteRunes (100) characters of its body.
const messageCols = `messages.id, messages.conversation_id, messages.sender_id, messages.body, messages.client_temp_id,
	messages.seq, messages.created_at, messages.edited_at, messages.deleted_at,
	messages.reply_to, messages.reply_count, messages.last_reply_at, messages.mentions, messages.attachments,
	(SELECT q.sender_id FROM messages q WHERE q.seq = messages.reply_to_seq),
	(SELECT CASE WHEN q.deleted_at IS NULL THEN substr(q.body, 1, 100) END FROM messages q WHERE q.seq = messages.reply_to_seq)`

func scanMessage(r rowScanner) (*engine.Message, error) {
	var m engine.Message
	var qSender, qBody, mentions, atts sql.NullString
	err := r.Scan(&m.ID, &m.ConversationID, &m.SenderID, &m.Body, &m.ClientTempID, &m.Seq, &m.CreatedAt, &m.EditedAt, &m.DeletedAt,
		&m.ReplyTo, &m.ReplyCount, &m.LastReplyAt, &mentions, &atts, &qSender, &qBody)
	if err != nil {
		return nil, err
	}
	if mentions.Valid {
		if err := json.Unmarshal([]byte(mentions.String), &m.Mentions); err != nil {
			return nil, fmt.Errorf("mentions of message %s: %w", m.ID, err)
		}
	}
	if atts.Valid {
		if err := json.Unmarshal([]byte(atts.String), &m.Attachments); err != nil {
			return nil, fmt.Errorf("attachments of message %s: %w", m.ID, err)
		}
	}
	if m.ReplyTo != nil && qSender.Valid {
		m.Quote = &engine.Quote{SenderID: qSender.String, Body: qBody.String, Deleted: !qBody.Valid}
	}
	return &m, nil
}

// Message returns one message of a conversation, or nil.
func (db *DB) Message(ctx context.Context, conversationID, messageID string) (r0 *engine.Message, qerr error) {
	defer wrapQuery(&qerr, "message %s of %s", messageID, conversationID)
	return one(scanMessage(db.lookupRow(ctx, `SELECT `+messageCols+` FROM messages WHERE id = ? AND conversation_id = ?`,
		messageID, conversationID)))
}

// MessageByTempID finds a message by its idempotency key, or nil.
func (db *DB) MessageByTempID(ctx context.Context, conversationID, senderID, clientTempID string) (r0 *engine.Message, qerr error) {
	defer wrapQuery(&qerr, "message by client_temp_id %s of %s in %s", clientTempID, senderID, conversationID)
	return one(scanMessage(db.lookupRow(ctx, `SELECT `+messageCols+` FROM messages
		WHERE sender_id = ? AND conversation_id = ? AND client_temp_id = ?`, senderID, conversationID, clientTempID)))
}

// SendCheck reads membership and an earlier send of clientTempID at once.
func (db *DB) SendCheck(ctx context.Context, conversationID, userID, clientTempID string) (r0 bool, r1 *engine.Message, qerr error) {
	defer wrapQuery(&qerr, "send check of %s in %s", userID, conversationID)
	if db.sends.check(conversationID, userID, clientTempID) {
		db.sends.fast.Add(1)
		return true, nil, nil
	}
	db.sends.slow.Add(1)
	removals := db.sends.removalCount()
	var member int
	var seq sql.NullInt64
	err := db.lookupRow(ctx, `SELECT (SELECT count(*) FROM participants WHERE conversation_id = ?1 AND user_id = ?2),
		(SELECT seq FROM messages WHERE sender_id = ?2 AND conversation_id = ?1 AND client_temp_id = ?3)`,
		conversationID, userID, clientTempID).Scan(&member, &seq)
	if err != nil || member == 0 {
		return false, nil, err
	}
	db.sends.rememberMember(conversationID, userID, removals)
	if !seq.Valid {
		return true, nil, nil
	}
	m, err := one(scanMessage(db.lookupRow(ctx, `SELECT `+messageCols+` FROM messages WHERE seq = ?`, seq.Int64)))
	return true, m, err
}

// Messages returns up to limit messages before beforeSeq (0: the newest),
// oldest first.
func (db *DB) Messages(ctx context.Context, conversationID string, beforeSeq uint64, limit int) (r0 []engine.Message, qerr error) {
	defer wrapQuery(&qerr, "messages of %s before seq %d", conversationID, beforeSeq)
	return db.messagesBefore(ctx, "conversation_id", conversationID, beforeSeq, limit)
}

// messagesBefore returns up to limit messages whose column key is value
// (a conversation, or a replied-to message), before beforeSeq (0: the
// newest), oldest first.
func (db *DB) messagesBefore(ctx context.Context, key string, value any, beforeSeq uint64, limit int) ([]engine.Message, error) {
	if beforeSeq == 0 {
		beforeSeq = 1<<63 - 1
	}
	rows, err := db.query(ctx, `SELECT `+messageCols+` FROM messages
		WHERE `+key+` = ? AND seq < ? ORDER BY seq DESC LIMIT ?`, value, beforeSeq, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []engine.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *m)
	}
	slices.Reverse(out)
	return out, rows.Err()
}

// Receipts lists who read a message, in the order they read it.
func (db *DB) Receipts(ctx context.Context, messageID string) (r0 []engine.Receipt, qerr error) {
	defer wrapQuery(&qerr, "receipts of %s", messageID)
	// A read covers the messages after the reader's marker up to and
	// including the one read, but not the reader's own nor those deleted
	// before the read.
	rows, err := db.query(ctx, `SELECT r.user_id, r.read_at, r.read_seq FROM messages m JOIN message_reads r
		ON r.conversation_id = m.conversation_id AND r.to_seq >= m.seq AND r.from_seq < m.seq
		WHERE m.id = ? AND r.user_id <> m.sender_id AND (m.deleted_seq IS NULL OR r.read_seq < m.deleted_seq)
		ORDER BY r.read_seq, r.user_id`, messageID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []engine.Receipt{}
	for rows.Next() {
		var r engine.Receipt
		if err := rows.Scan(&r.UserID, &r.ReadAt, &r.ReadSeq); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// extraScanner scans a summary row followed by extra columns.
type extraScanner struct {
	r     rowScanner
	extra []any
}

func (e extraScanner) Scan(dest ...any) error { return e.r.Scan(append(dest, e.extra...)...) }

// Snapshot reads the checkpoint, the user's summary of the conversation and
// their unread total in one statement, so they agree.
func (db *DB) Snapshot(ctx context.Context, conversationID, userID string) (r0 *engine.Snapshot, qerr error) {
	defer wrapQuery(&qerr, "snapshot of %s for %s", conversationID, userID)
	// One statement reads one snapshot of the database: no transaction
	// needed to make the checkpoint, the summary and the total agree.
	var snap engine.Snapshot
	sum, err := one(scanSummary(extraScanner{r: db.lookupRow(ctx, snapshotQuery, checkpointName, conversationID, userID),
		extra: []any{&snap.Checkpoint, &snap.Summary.UnreadTotal, &snap.Settings.ArchivedSeq}}))
	if err != nil || sum == nil {
		return nil, err
	}
	snap.Conversation = *sum
	snap.Settings.Muted, snap.Settings.Pinned = sum.Muted, sum.Pinned
	return &snap, nil
}

// snapshotQuery reads a participant's summary of a conversation with the
// checkpoint and the participant's unread total.
const snapshotQuery = `SELECT ` + summaryCols + `,
	coalesce((SELECT seq FROM checkpoints WHERE name = ?1), 0),
	(SELECT coalesce(sum(unread_count), 0) FROM unread_summary WHERE user_id = ?3), p.archived_seq` + summaryFrom +
	`WHERE p.conversation_id = ?2 AND p.user_id = ?3`

// SkippedBetween lists, in order, the sequences with from < seq <= to that
// the projector rejected, in every conversation.
func (db *DB) SkippedBetween(ctx context.Context, from, to uint64) (r0 []uint64, qerr error) {
	defer wrapQuery(&qerr, "skipped events in (%d, %d]", from, to)
	rows, err := db.query(ctx, `SELECT seq FROM skipped_events WHERE seq > ? AND seq <= ? ORDER BY seq`, from, to)
	if err != nil {
		return nil, err
	}
	return scanColumn[uint64](rows)
}

// Skipped returns the rejected sequences of a conversation in (from, to].
func (db *DB) Skipped(ctx context.Context, conversationID string, from, to uint64) (r0 map[uint64]bool, qerr error) {
	defer wrapQuery(&qerr, "skipped events of %s in (%d, %d]", conversationID, from, to)
	rows, err := db.query(ctx, `SELECT seq FROM skipped_events WHERE conversation_id = ? AND seq > ? AND seq <= ?`,
		conversationID, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uint64]bool{}
	for rows.Next() {
		var seq uint64
		if err := rows.Scan(&seq); err != nil {
			return nil, err
		}
		out[seq] = true
	}
	return out, rows.Err()
}

// Deleted returns the deleted messages of a conversation in (from, to].
func (db *DB) Deleted(ctx context.Context, conversationID string, from, to uint64) (r0 map[string]string, qerr error) {
	defer wrapQuery(&qerr, "deleted messages of %s in (%d, %d]", conversationID, from, to)
	return scanDeletedAt(db.query(ctx, `SELECT id, deleted_at FROM messages
		WHERE conversation_id = ? AND seq > ? AND seq <= ? AND deleted_at IS NOT NULL`, conversationID, from, to))
}

// scanDeletedAt reads (id, deleted_at) rows into a map, and closes them.
func scanDeletedAt(rows *sql.Rows, err error) (map[string]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, at string
		if err := rows.Scan(&id, &at); err != nil {
			return nil, err
		}
		out[id] = at
	}
	return out, rows.Err()
}

// ParticipantsAmong returns those of userIDs who are participants of the
// conversation.
func (db *DB) ParticipantsAmong(ctx context.Context, conversationID string, userIDs []string) (r0 []string, qerr error) {
	defer wrapQuery(&qerr, "participants of %s among %d", conversationID, len(userIDs))
	if len(userIDs) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(userIDs)
	if err != nil {
		return nil, err
	}
	rows, err := db.query(ctx, `SELECT user_id FROM participants
		WHERE conversation_id = ? AND user_id IN (SELECT value FROM json_each(?))`, conversationID, string(list))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// Settings returns userID's settings of the conversation and the
// conversation's last message sequence; nil when not a participant.
func (db *DB) Settings(ctx context.Context, conversationID, userID string) (r0 *engine.MemberSettings, r1 uint64, qerr error) {
	defer wrapQuery(&qerr, "settings of %s in %s", userID, conversationID)
	var s engine.MemberSettings
	var pinnedSeq, last uint64
	err := db.lookupRow(ctx, `SELECT p.muted, p.archived_seq, p.pinned_seq, p.settings_version, c.last_message_seq
		FROM participants p JOIN conversations c ON c.id = p.conversation_id
		WHERE p.conversation_id = ? AND p.user_id = ?`, conversationID, userID).Scan(&s.Muted, &s.ArchivedSeq, &pinnedSeq, &s.Version, &last)
	if err == sql.ErrNoRows {
		return nil, 0, nil
	}
	s.Pinned = pinnedSeq > 0
	return &s, last, err
}

// PinnedCount is how many conversations userID has pinned.
func (db *DB) PinnedCount(ctx context.Context, userID string) (r0 int, qerr error) {
	defer wrapQuery(&qerr, "pinned conversations of %s", userID)
	var n int
	err := db.lookupRow(ctx, `SELECT count(*) FROM participants WHERE user_id = ? AND pinned_seq > 0`, userID).Scan(&n)
	return n, err
}

// DeletedAmong returns which of the messages ids of this conversation are
// deleted now, with their deletion time.
func (db *DB) DeletedAmong(ctx context.Context, conversationID string, ids []string) (r0 map[string]string, qerr error) {
	defer wrapQuery(&qerr, "deleted messages of %s among %d", conversationID, len(ids))
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	return scanDeletedAt(db.query(ctx, `SELECT id, deleted_at FROM messages
		WHERE conversation_id = ? AND id IN (SELECT value FROM json_each(?)) AND deleted_at IS NOT NULL`, conversationID, string(list)))
}
