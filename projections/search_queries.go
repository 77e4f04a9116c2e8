package projections

import (
	"context"
	"database/sql"
	"strings"

	"parley/engine"
)

// Snippet markers: control characters, which no body holds.
const (
	markOpen  = "\x02"
	markClose = "\x03"
)

// searchQuery ranks, among the newest engine.SearchCandidates matches of
// ?1 (which names the conversations searched, so the index intersects them
// with the terms), the page asked for: best first (bm25 over the bodies
// alone), newest first among equals, with a snippet of each (made while the
// index holds the match: a second match per hit costs more). ?2 the
// sequence bound, ?3 the candidates, ?4 and ?5 the page.
const searchQuery = `WITH cand AS (
		SELECT rowid AS seq, bm25(messages_fts, 1.0, 0.0) AS rank, snippet(messages_fts, 0, char(2), char(3), '…', 24) AS snip
		FROM messages_fts WHERE messages_fts MATCH ?1 AND rowid < ?2 ORDER BY rowid DESC LIMIT ?3)
	SELECT ` + messageCols + `, cand.snip FROM cand JOIN messages ON messages.seq = cand.seq
	ORDER BY cand.rank, cand.seq DESC LIMIT ?4 OFFSET ?5`

// searchConversations bounds the conversations one search names in its
// match expression; a search of more (a user in more conversations) names
// none and keeps the user's hits among the matches instead.
const searchConversations = 500

// Search returns a page of req's hits, best first, and whether more of the
// candidates follow.
func (db *DB) Search(ctx context.Context, req engine.SearchRequest) (r0 []engine.SearchHit, r1 bool, qerr error) {
	defer wrapQuery(&qerr, "search of %s", req.UserID)
	before := req.BeforeSeq
	if before == 0 {
		before = 1<<63 - 1
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
	query, args := searchQuery, []any{"", before, engine.SearchCandidates, req.Limit + 1, req.Offset}
	if len(convs) > searchConversations {
		// Too many to name: filter the matches by membership instead.
		query = strings.Replace(searchQuery, `WHERE messages_fts MATCH ?1 AND rowid < ?2`,
			`WHERE messages_fts MATCH ?1 AND rowid < ?2 AND (SELECT conversation_id FROM messages WHERE seq = messages_fts.rowid)
				IN (SELECT conversation_id FROM participants WHERE user_id = ?6)`, 1)
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
		return nil, false, err
	}
	defer rows.Close()
	var out []engine.SearchHit
	for rows.Next() {
		var snippet string
		m, err := scanMessage(extraScanner{r: rows, extra: []any{&snippet}})
		if err != nil {
			return nil, false, err
		}
		out = append(out, engine.SearchHit{Message: *m, Snippet: snippetParts(snippet)})
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	more := len(out) > req.Limit && req.Offset+req.Limit < engine.SearchCandidates
	if len(out) > req.Limit {
		out = out[:req.Limit]
	}
	return out, more, nil
}

// snippetParts splits a snippet at its markers.
func snippetParts(s string) []engine.SnippetPart {
	var parts []engine.SnippetPart
	for s != "" {
		i := strings.Index(s, markOpen)
		if i < 0 {
			parts = append(parts, engine.SnippetPart{Text: s})
			break
		}
		if i > 0 {
			parts = append(parts, engine.SnippetPart{Text: s[:i]})
		}
		s = s[i+1:]
		j := strings.Index(s, markClose)
		if j < 0 {
			j = len(s)
		}
		parts = append(parts, engine.SnippetPart{Text: s[:j], Match: true})
		s = strings.TrimPrefix(s[j:], markClose)
	}
	return parts
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
