package projections

import (
	"context"
	"database/sql"

	"parley/engine"
	"parley/internal/realtime"
)

var (
	_ realtime.SummaryReader = (*DB)(nil)
	_ engine.ChangeFinder    = (*DB)(nil)
)

// maxParticipantRows bounds ParticipantIDs far above the participant
// limit, so a bad row count can never make it unbounded.
const maxParticipantRows = 10000

// ConversationView returns a conversation's own fields and last message,
// the part of a summary every participant shares (its member fields are
// zero), or nil when it does not exist.
func (db *DB) ConversationView(ctx context.Context, conversationID string) (r0 *engine.ConversationSummary, qerr error) {
	defer wrapQuery(&qerr, "conversation view of %s", conversationID)
	return one(scanSummary(db.lookupRow(ctx, conversationViewQuery, conversationID)))
}

const conversationViewQuery = `SELECT c.id, c.kind, c.title, c.created_by, c.created_at, c.last_activity_at, c.last_activity_seq,
	c.last_event_seq, c.participant_count, 0, NULL, 0, 0, 0, 0, 0,
	m.id, m.sender_id, m.body, m.client_temp_id, m.seq, m.created_at, m.edited_at, m.deleted_at
	FROM conversations c LEFT JOIN messages m ON m.seq = c.last_message_seq AND c.last_message_seq > 0 WHERE c.id = ?`

// ParticipantIDs lists a conversation's participants.
func (db *DB) ParticipantIDs(ctx context.Context, conversationID string) (r0 []string, qerr error) {
	defer wrapQuery(&qerr, "participant ids of %s", conversationID)
	rows, err := db.query(ctx, `SELECT user_id FROM participants WHERE conversation_id = ? ORDER BY user_id LIMIT ?`,
		conversationID, maxParticipantRows)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// ConversationsChangedSince lists up to limit of the user's conversations
// with an accepted event after afterSeq, oldest change first.
func (db *DB) ConversationsChangedSince(ctx context.Context, userID string, afterSeq uint64, limit int) (r0 []string, qerr error) {
	defer wrapQuery(&qerr, "conversations of %s changed since seq %d", userID, afterSeq)
	rows, err := db.query(ctx, `SELECT c.id FROM participants p JOIN conversations c ON c.id = p.conversation_id
		WHERE p.user_id = ? AND c.last_event_seq > ? ORDER BY c.last_event_seq LIMIT ?`, userID, afterSeq, limit)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

func scanStrings(rows *sql.Rows) ([]string, error) { return scanColumn[string](rows) }

// scanColumn reads the single column of every row and closes rows.
func scanColumn[T any](rows *sql.Rows) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
