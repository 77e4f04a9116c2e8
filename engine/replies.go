package engine

import "context"

// ErrInvalidReplyTo answers a reply to something that is not a message of
// the same conversation.
var ErrInvalidReplyTo = Errorf(KindInvalid, "invalid_reply_to", "reply_to must be the id of a message of this conversation")

// replyQuote checks that a reply's target is a live message of the
// conversation and returns its quote.
func (s *Service) replyQuote(ctx context.Context, conversationID, replyTo string) (*Quote, error) {
	if !ValidID(replyTo) {
		return nil, ErrInvalidReplyTo
	}
	m, err := s.message(ctx, conversationID, replyTo)
	if err != nil {
		if e := AsError(err); e != nil && e.Kind == KindNotFound {
			return nil, ErrInvalidReplyTo
		}
		return nil, err
	}
	if m.DeletedAt != nil {
		return nil, ErrMessageDeleted
	}
	return QuoteOf(m), nil
}

// Replies returns a page of the replies to a message, before the reply
// beforeID (or the newest when empty), oldest first.
func (s *Service) Replies(ctx context.Context, userID, conversationID, messageID, beforeID string, limit int) (*MessagePage, error) {
	limit, err := PageLimit(limit, s.limits.DefaultPage, s.limits.MaxPage)
	if err != nil {
		return nil, err
	}
	if _, err := s.participant(ctx, conversationID, userID); err != nil {
		return nil, err
	}
	parent, err := s.message(ctx, conversationID, messageID)
	if err != nil {
		return nil, err
	}
	before, err := s.pageCursor(ctx, conversationID, beforeID)
	if err != nil {
		return nil, err
	}
	msgs, err := s.store.Replies(ctx, parent.Seq, before, limit+1)
	if err != nil {
		return nil, err
	}
	return s.page(ctx, userID, msgs, limit)
}

// pageCursor resolves a page's before_id to its message's sequence (0 for
// none).
func (s *Service) pageCursor(ctx context.Context, conversationID, beforeID string) (uint64, error) {
	if beforeID == "" {
		return 0, nil
	}
	m, err := s.message(ctx, conversationID, beforeID)
	if err != nil {
		return 0, cursorError(err)
	}
	return m.Seq, nil
}

// page makes a history page of up to limit+1 messages read oldest first,
// with the caller's view of their reactions.
func (s *Service) page(ctx context.Context, userID string, msgs []Message, limit int) (*MessagePage, error) {
	page := &MessagePage{Messages: msgs}
	if len(msgs) > limit {
		page.Messages = msgs[1:]
		page.HasMore = true
		page.NextBefore = &page.Messages[0].ID
	}
	if page.Messages == nil {
		page.Messages = []Message{}
	}
	if err := s.attachReactions(ctx, userID, page.Messages, nil); err != nil {
		return nil, err
	}
	return page, nil
}
