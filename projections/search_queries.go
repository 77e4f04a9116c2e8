package projections

import (
	"context"
	"database/sql"
	"strings"

	"parley/engine"
)

// searchQuery takes the newest engine.SearchCandidates matches of ?1
// (which names the conversations searched, so the index intersects them
// with the terms) with their bodies, for Search to rank. The index's rowid
// is the negated sequence, so its ascending order is newest first and a
// posting list is walked forwards, seeking. ?2 the negated sequence bound,
// ?3 the candidates.
const searchQuery = `SELECT m.seq, m.body FROM messages_fts JOIN messages m ON m.seq = -messages_fts.rowid
	WHERE messages_fts MATCH ?1 AND messages_fts.rowid > ?2 ORDER BY messages_fts.rowid LIMIT ?3`

// searchConversations bounds the conversations one search names in its
// match expression; a search of more (a user in more conversations) names
// none and keeps the user's hits among the matches instead.
const searchConversations = 500

// Search returns a page of req's hits, best first, and whether more of the
// candidates follow.
func (db *DB) Search(ctx context.Context, req engine.SearchRequest) (r0 []engine.SearchHit, r1 bool, qerr error) {
	defer wrapQuery(&qerr, "search of %s", req.UserID)
	db.awaitSearch(ctx)
	before := -int64(req.BeforeSeq)
	if req.BeforeSeq == 0 {
		before = -(1<<63 - 1)
	}
	convs := []string{req.ConversationID}
	if req.ConversationID == "" {
		rows, err := db.query(ctx, `SELECT conversation_id FROM participants WHERE user_id = ? LIMIT ?`, req.UserID, searchConversations+1)
		if err != nil {
			return nil, false, err
		}
		if convs, err = scanStrings(rows); err != nil {
			return nil, false, err
		}
		if len(convs) == 0 {
			return nil, false, nil
		}
	}
	query, args := searchQuery, []any{"", before, engine.SearchCandidates}
	if len(convs) > searchConversations {
		// Too many to name: filter the matches by membership instead.
		query = strings.Replace(searchQuery, `WHERE messages_fts MATCH ?1`,
			`WHERE messages_fts MATCH ?1 AND m.conversation_id IN (SELECT conversation_id FROM participants WHERE user_id = ?4)`, 1)
		args[0] = "body : (" + req.MatchExpr + ")"
		args = append(args, req.UserID)
	} else {
		quoted := make([]string, len(convs))
		for i, c := range convs {
			quoted[i] = `"` + c + `"`
		}
		args[0] = "conversation_id : (" + strings.Join(quoted, " OR ") + ") AND body : (" + req.MatchExpr + ")"
	}
	rows, err := db.query(ctx, query, args...)
	if err != nil {
		if strings.Contains(err.Error(), "fts5") {
			// The words are quoted, so this should not happen; if the
			// index still refuses them, the caller hears why, not a 500.
			return nil, false, engine.Errorf(engine.KindInvalid, "invalid_query", "the search index cannot take this query")
		}
		return nil, false, err
	}
	var cands []engine.SearchCandidate
	for rows.Next() {
		var c engine.SearchCandidate
		if err := rows.Scan(&c.Seq, &c.Body); err != nil {
			rows.Close()
			return nil, false, err
		}
		cands = append(cands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	page, more := engine.RankCandidates(cands, req.Terms, req.Offset, req.Limit)
	out := make([]engine.SearchHit, 0, len(page))
	for _, c := range page {
		m, err := one(scanMessage(db.lookupRow(ctx, `SELECT `+messageCols+` FROM messages WHERE seq = ?`, c.Seq)))
		if err != nil {
			return nil, false, err
		}
		if m != nil {
			out = append(out, engine.SearchHit{Message: *m, Snippet: engine.Snippet(m.Body, req.Terms)})
		}
	}
	return out, more, nil
}

// MessageSeq is the sequence of a message in one of userID's
// conversations, 0 when there is none.
func (db *DB) MessageSeq(ctx context.Context, userID, messageID string) (r0 uint64, qerr error) {
	defer wrapQuery(&qerr, "message %s for %s", messageID, userID)
	var seq uint64
	err := db.lookupRow(ctx, `SELECT m.seq FROM messages m JOIN participants p ON p.conversation_id = m.conversation_id AND p.user_id = ?
		WHERE m.id = ?`, userID, messageID).Scan(&seq)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return seq, err
}
