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

// maxParticipantRows bounds ParticipantSummaries far above the participant
// limit, so a bad row count can never make it unbounded.
const maxParticipantRows = 10000

// extraScanner scans a summary row followed by extra columns.
type extraScanner struct {
	r     rowScanner
	extra []any
}

func (e extraScanner) Scan(dest ...any) error { return e.r.Scan(append(dest, e.extra...)...) }

// ParticipantSummaries returns every participant's summary of a conversation
// with their unread total, in one query: what conversation.updated carries.
func (db *DB) ParticipantSummaries(ctx context.Context, conversationID string) (r0 []realtime.ParticipantSummary, qerr error) {
	defer wrapQuery(&qerr, "participant summaries of %s", conversationID)
	rows, err := db.query(ctx, `SELECT `+summaryCols+`, p.user_id, coalesce(u.unread_total, 0)`+summaryFrom+
		`LEFT JOIN unread_summary u ON u.user_id = p.user_id
		WHERE p.conversation_id = ? ORDER BY p.user_id LIMIT ?`, conversationID, maxParticipantRows)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []realtime.ParticipantSummary
	for rows.Next() {
		var ps realtime.ParticipantSummary
		s, err := scanSummary(extraScanner{r: rows, extra: []any{&ps.UserID, &ps.UnreadTotal}})
		if err != nil {
			return nil, err
		}
		ps.Conversation = *s
		out = append(out, ps)
	}
	return out, rows.Err()
}

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
