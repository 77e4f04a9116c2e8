package engine

import (
	"context"
	"strings"
)

// MaxMentions bounds the users one message mentions; mentions past it are
// plain text.
const MaxMentions = 50

// mentionToken is one "@name" of a body: the names it may stand for, longest
// first (the run of user-id characters after "@", then without its trailing
// punctuation, so "@bob," can mean bob and "@a.b" can mean a.b).
type mentionToken []string

// mentionTokens finds the "@name" tokens of body: an "@" at the start or
// after a character that cannot be in a user id (so an e-mail address is
// not one), followed by user-id characters. At most MaxMentions tokens.
func mentionTokens(body string) []mentionToken {
	var out []mentionToken
	for i := 0; i < len(body) && len(out) < MaxMentions; i++ {
		if body[i] != '@' || (i > 0 && idChar(body[i-1])) {
			continue
		}
		j := i + 1
		for j < len(body) && idChar(body[j]) && body[j] != '@' {
			j++
		}
		name := body[i+1 : j]
		var tok mentionToken
		for name != "" && len(tok) < 4 {
			if ValidUserID(name) {
				tok = append(tok, name)
			}
			trimmed := strings.TrimRight(name, ".,;")
			if trimmed == name {
				break
			}
			name = trimmed
		}
		if len(tok) > 0 {
			out = append(out, tok)
		}
		i = j - 1
	}
	return out
}

// idChar reports whether c may be part of a user id (see ValidUserID).
func idChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("_-=@,.;", c) >= 0
}

// mentions resolves body's "@name" tokens to the participants they name,
// in the order first mentioned, without the sender: each token means its
// longest name that is a participant. One read of the read model, and none
// for a body without "@".
func (s *Service) mentions(ctx context.Context, conversationID, senderID, body string) ([]string, error) {
	if !strings.Contains(body, "@") {
		return nil, nil
	}
	toks := mentionTokens(body)
	if len(toks) == 0 {
		return nil, nil
	}
	var names []string
	for _, t := range toks {
		names = append(names, t...)
	}
	members, err := s.store.ParticipantsAmong(ctx, conversationID, names)
	if err != nil {
		return nil, err
	}
	is := make(map[string]bool, len(members))
	for _, m := range members {
		is[m] = true
	}
	var out []string
	seen := map[string]bool{senderID: true}
	for _, t := range toks {
		for _, name := range t {
			if is[name] {
				if !seen[name] {
					seen[name] = true
					out = append(out, name)
				}
				break
			}
		}
	}
	return out, nil
}
