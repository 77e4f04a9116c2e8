package projections

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"parley/engine"
)

// Replies returns up to limit replies to the message at parentSeq before
// beforeSeq (0: the newest), oldest first.
func (db *DB) Replies(ctx context.Context, parentSeq, beforeSeq uint64, limit int) (r0 []engine.Message, qerr error) {
	defer wrapQuery(&qerr, "replies to seq %d before seq %d", parentSeq, beforeSeq)
	return db.messagesBefore(ctx, "reply_to_seq", parentSeq, beforeSeq, limit)
}

// Reactions returns the standing reactions of the messages at seqs, in the
// order each key was first put, with whether userID holds each.
func (db *DB) Reactions(ctx context.Context, userID string, seqs []uint64) (r0 map[uint64][]engine.Reaction, qerr error) {
	defer wrapQuery(&qerr, "reactions of %d messages", len(seqs))
	if len(seqs) == 0 {
		return nil, nil
	}
	var list strings.Builder
	list.WriteByte('[')
	for i, s := range seqs {
		if i > 0 {
			list.WriteByte(',')
		}
		list.WriteString(strconv.FormatUint(s, 10))
	}
	list.WriteByte(']')
	rows, err := db.query(ctx, `SELECT c.message_seq, c.emoji, c.count, coalesce(r.active, 0)
		FROM reaction_counts c LEFT JOIN message_reactions r
			ON r.message_seq = c.message_seq AND r.user_id = ? AND r.emoji = c.emoji
		WHERE c.message_seq IN (SELECT value FROM json_each(?))
		ORDER BY c.message_seq, c.first_seq`, userID, list.String())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uint64][]engine.Reaction{}
	for rows.Next() {
		var seq uint64
		var r engine.Reaction
		if err := rows.Scan(&seq, &r.Emoji, &r.Count, &r.Me); err != nil {
			return nil, err
		}
		out[seq] = append(out[seq], r)
	}
	return out, rows.Err()
}

// ReactionState is userID's reaction emoji on the message at seq.
func (db *DB) ReactionState(ctx context.Context, seq uint64, userID, emoji string) (r0 engine.ReactionState, qerr error) {
	defer wrapQuery(&qerr, "reaction of %s on seq %d", userID, seq)
	var st engine.ReactionState
	err := db.lookupRow(ctx, `SELECT active, version FROM message_reactions WHERE message_seq = ? AND user_id = ? AND emoji = ?`,
		seq, userID, emoji).Scan(&st.Reacted, &st.Version)
	if err == sql.ErrNoRows {
		return engine.ReactionState{}, nil
	}
	return st, err
}
