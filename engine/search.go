package engine

import (
	"context"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Search bounds: a query of at most MaxSearchBytes and MaxSearchTerms
// terms; the hits of one search are ranked among the newest
// SearchCandidates matches older than its before bound, and paged.
const (
	MaxSearchBytes   = 200
	MaxSearchTerms   = 10
	SearchCandidates = 300
	DefaultSearch    = 20
	MaxSearch        = 50
)

// SearchHit is one message that matches a search, with the part of its
// body around the matches, split into plain and matched parts.
type SearchHit struct {
	Message Message       `json:"message"`
	Snippet []SnippetPart `json:"snippet"`
}

// SnippetPart is a piece of a snippet; Match marks a matched term.
type SnippetPart struct {
	Text  string `json:"text"`
	Match bool   `json:"match,omitempty"`
}

// SearchPage is a page of hits, best first.
type SearchPage struct {
	Hits       []SearchHit `json:"hits"`
	NextCursor *string     `json:"next_cursor"`
}

// SearchQuery is what a search asks: the text, optionally one
// conversation, only messages before the message Before, and a page.
type SearchQuery struct {
	Text           string
	ConversationID string
	Before         string
	Cursor         string
	Limit          int
}

// SearchRequest is a checked search for the read model: MatchExpr is an
// FTS5 expression built from the terms alone (each a quoted string, so the
// query language never reaches the index), BeforeSeq bounds the messages.
type SearchRequest struct {
	UserID         string
	ConversationID string
	MatchExpr      string
	Terms          []SearchTerm // what the snippets mark
	BeforeSeq      uint64
	Offset, Limit  int
}

// MatchExpression turns a user's search text into an FTS5 expression: its
// words (runs of letters and digits) each quoted (a word the index cuts
// further is a phrase of its parts), a "*" ending a word of 3 characters or
// more kept as a prefix search, all of them required.
// Anything else is a separator, so no query syntax reaches the index. ok is
// false when no word is left.
func MatchExpression(text string) (expr string, ok bool) {
	expr, terms := matchTerms(text)
	return expr, len(terms) > 0
}

// matchTerms is MatchExpression with the words it kept (at most
// MaxSearchTerms).
func matchTerms(text string) (string, []SearchTerm) {
	var quoted []string
	var terms []SearchTerm
	for _, f := range strings.Fields(text) {
		prefix := strings.HasSuffix(f, "*")
		words := strings.FieldsFunc(f, func(r rune) bool { return !wordChar(r) })
		for i, w := range words {
			if len(terms) == MaxSearchTerms {
				break
			}
			// A prefix needs 3 characters: the index keeps those, and a
			// shorter one would merge the lists of most of the words.
			p := prefix && i == len(words)-1 && utf8.RuneCountInString(w) >= 3
			q := `"` + w + `"`
			if p {
				q += "*"
			}
			quoted = append(quoted, q)
			terms = append(terms, SearchTerm{Text: w, Prefix: p})
		}
	}
	return strings.Join(quoted, " "), terms
}

// Search finds the messages matching q in the caller's conversations (or
// the one named), best first among the newest SearchCandidates matches.
func (s *Service) Search(ctx context.Context, userID string, q SearchQuery) (*SearchPage, error) {
	limit, err := PageLimit(q.Limit, DefaultSearch, MaxSearch)
	if err != nil {
		return nil, err
	}
	text := strings.TrimSpace(q.Text)
	switch {
	case !utf8.ValidString(text) || strings.ContainsFunc(text, unicode.IsControl):
		return nil, Errorf(KindInvalid, "invalid_query", "q must be text without control characters")
	case text == "":
		return nil, Errorf(KindInvalid, "query_required", "q must not be empty")
	case len(text) > MaxSearchBytes:
		return nil, Errorf(KindInvalid, "query_too_long", "q must be at most %d bytes", MaxSearchBytes)
	}
	expr, terms := matchTerms(text)
	if len(terms) == 0 {
		return nil, Errorf(KindInvalid, "invalid_query", "q must hold a word: letters or digits")
	}
	req := SearchRequest{UserID: userID, MatchExpr: expr, Terms: terms, Limit: limit}
	if q.ConversationID != "" {
		if _, err := s.participant(ctx, q.ConversationID, userID); err != nil {
			return nil, err
		}
		req.ConversationID = q.ConversationID
	}
	if q.Before != "" {
		if !ValidID(q.Before) {
			return nil, ErrUnknownCursor
		}
		seq, err := s.store.MessageSeq(ctx, userID, q.Before)
		if err != nil {
			return nil, err
		}
		if seq == 0 {
			return nil, ErrUnknownCursor
		}
		req.BeforeSeq = seq
	}
	if q.Cursor != "" {
		n, err := strconv.Atoi(q.Cursor)
		if err != nil || n <= 0 || n >= SearchCandidates {
			return nil, ErrUnknownCursor
		}
		req.Offset = n
	}
	hits, more, err := s.store.Search(ctx, req)
	if err != nil {
		return nil, err
	}
	page := &SearchPage{Hits: hits}
	if page.Hits == nil {
		page.Hits = []SearchHit{}
	}
	if more {
		next := strconv.Itoa(req.Offset + limit)
		page.NextCursor = &next
	}
	return page, nil
}
