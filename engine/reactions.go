package engine

import (
	"context"
	"encoding/hex"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Reaction limits: a key is at most MaxReactionBytes of UTF-8 (an emoji
// sequence such as a family or a flag fits; a sentence does not), and a
// message holds at most MaxReactionsPerMessage distinct keys.
const (
	MaxReactionBytes       = 32
	MaxReactionsPerMessage = 20
)

// ValidReaction reports whether key can be a reaction: 1 to
// MaxReactionBytes of valid UTF-8 with no space, no control character and
// no bidirectional override, so it renders as what it is.
func ValidReaction(key string) bool {
	if key == "" || len(key) > MaxReactionBytes || !utf8.ValidString(key) {
		return false
	}
	for _, r := range key {
		switch {
		case unicode.IsControl(r), unicode.IsSpace(r), r == utf8.RuneError:
			return false
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
			return false // direction marks and overrides
		case r == '/' || r == '\\' || r == '%':
			return false // the key travels in a URL path
		}
	}
	return true
}

// ReactKey is a reaction change's idempotency key: one change per user,
// message, key and version, so requests racing to make the same change
// append it once.
func ReactKey(conversationID, messageID, userID, emoji string, version uint64) string {
	return "react:" + conversationID + ":" + messageID + ":" + userID + ":" + hex.EncodeToString([]byte(emoji)) + ":" + strconv.FormatUint(version, 10)
}

// ErrMessageDeleted answers a change to a deleted message.
var ErrMessageDeleted = Errorf(KindConflict, "message_deleted", "the message is deleted")

// React puts (on) or takes back the caller's reaction emoji on a message and
// returns the message with its reactions. Putting a reaction the caller has,
// or taking back one they have not, changes nothing and appends nothing.
func (s *Service) React(ctx context.Context, userID, conversationID, messageID, emoji string, on bool) (*Message, error) {
	if !ValidReaction(emoji) {
		return nil, Errorf(KindInvalid, "invalid_reaction", "a reaction is 1 to %d bytes of UTF-8 without spaces, control characters, direction marks or /\\%%", MaxReactionBytes)
	}
	if _, err := s.participant(ctx, conversationID, userID); err != nil {
		return nil, err
	}
	m, err := s.message(ctx, conversationID, messageID)
	if err != nil {
		return nil, err
	}
	if m.DeletedAt != nil {
		return nil, ErrMessageDeleted
	}
	st, err := s.store.ReactionState(ctx, m.Seq, userID, emoji)
	if err != nil {
		return nil, err
	}
	if st.Reacted != on {
		if on {
			if err := s.roomForReaction(ctx, userID, m, emoji); err != nil {
				return nil, err
			}
		}
		ev, err := NewEvent(MessageReacted, conversationID, userID, s.now(),
			MessageReactedData{MessageID: messageID, Emoji: emoji, Reacted: on, Version: st.Version + 1})
		if err != nil {
			return nil, err
		}
		if _, _, err := s.appendAndWait(ctx, ev, ReactKey(conversationID, messageID, userID, emoji, st.Version+1)); err != nil {
			return nil, err
		}
		if m, err = s.message(ctx, conversationID, messageID); err != nil {
			return nil, err
		}
	}
	if err := s.attachReactions(ctx, userID, []Message{}, m); err != nil {
		return nil, err
	}
	return m, nil
}

// roomForReaction refuses a new key on a message that holds the most.
func (s *Service) roomForReaction(ctx context.Context, userID string, m *Message, emoji string) error {
	rs, err := s.store.Reactions(ctx, userID, []uint64{m.Seq})
	if err != nil {
		return err
	}
	keys := rs[m.Seq]
	for _, r := range keys {
		if r.Emoji == emoji {
			return nil
		}
	}
	if len(keys) >= MaxReactionsPerMessage {
		return Errorf(KindConflict, "too_many_reactions", "a message holds at most %d different reactions", MaxReactionsPerMessage)
	}
	return nil
}

// attachReactions sets the reactions of msgs (and of one), as userID sees
// them, in one read.
func (s *Service) attachReactions(ctx context.Context, userID string, msgs []Message, one *Message) error {
	seqs := make([]uint64, 0, len(msgs)+1)
	for _, m := range msgs {
		seqs = append(seqs, m.Seq)
	}
	if one != nil {
		seqs = append(seqs, one.Seq)
	}
	if len(seqs) == 0 {
		return nil
	}
	rs, err := s.store.Reactions(ctx, userID, seqs)
	if err != nil || len(rs) == 0 {
		return err
	}
	for i := range msgs {
		msgs[i].Reactions = rs[msgs[i].Seq]
	}
	if one != nil {
		one.Reactions = rs[one.Seq]
	}
	return nil
}
