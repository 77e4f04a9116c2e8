package engine

import (
	"context"
)

// Send appends a message. The idempotency key is (sender, conversation,
// client_temp_id): a retry returns the original message with created=false
// and appends nothing (read model first, then the log's duplicate window,
// then the read model's unique key for a retry after the window).
func (s *Service) Send(ctx context.Context, userID, conversationID, body, clientTempID string) (*Message, bool, error) {
	return s.SendDraft(ctx, userID, conversationID, Draft{Body: body, ClientTempID: clientTempID})
}

// Draft is what a send carries: the body, its idempotency key and, for a
// reply, the message it answers.
type Draft struct {
	Body         string
	ClientTempID string
	ReplyTo      string
	Attachments  []string
}

// SendDraft is Send with every option of a draft. A retry of an existing
// client_temp_id returns the original whatever else it carries.
func (s *Service) SendDraft(ctx context.Context, userID, conversationID string, d Draft) (*Message, bool, error) {
	body, clientTempID := d.Body, d.ClientTempID
	body, err := s.limits.checkBody(body)
	if err != nil {
		return nil, false, err
	}
	if err := s.limits.checkTempID(clientTempID); err != nil {
		return nil, false, err
	}
	if !ValidID(conversationID) {
		return nil, false, ErrConversationNotFound
	}
	ticket, before := s.seqs.ticket(), s.store.Applied()
	member, existing, err := s.store.SendCheck(ctx, conversationID, userID, clientTempID)
	if err == nil && !member {
		again, behind := s.catchUp(ctx, before, ticket)
		if again {
			member, existing, err = s.store.SendCheck(ctx, conversationID, userID, clientTempID)
		}
		if err == nil && !member && behind != nil {
			return nil, false, behind
		}
	}
	if err != nil || existing != nil {
		return existing, false, err
	}
	if !member {
		return nil, false, ErrConversationNotFound
	}
	mentions, err := s.mentions(ctx, conversationID, userID, body)
	if err != nil {
		return nil, false, err
	}
	atts, err := s.checkAttachments(ctx, userID, d.Attachments)
	if e := AsError(err); e != nil && e.Code == "attachment_in_use" {
		// A retry whose original was applied since the check above: the
		// original is the answer.
		if m, merr := s.store.MessageByTempID(ctx, conversationID, userID, clientTempID); merr == nil && m != nil {
			return m, false, nil
		}
	}
	if err != nil {
		return nil, false, err
	}
	data := MessageSentData{Body: body, ClientTempID: clientTempID, ReplyTo: d.ReplyTo, Mentions: mentions, Attachments: atts}
	var quote *Quote
	if d.ReplyTo != "" {
		if quote, err = s.replyQuote(ctx, conversationID, d.ReplyTo); err != nil {
			return nil, false, err
		}
	}
	ev, err := NewEvent(MessageSent, conversationID, userID, s.now(), data)
	if err != nil {
		return nil, false, err
	}
	seq, dup, err := s.appendAndWait(ctx, ev, SendKey(conversationID, userID, clientTempID))
	if err != nil {
		return nil, false, err
	}
	if accepted, known := s.store.Outcome(seq); !dup && known && accepted {
		// The projector stored this very event: answer from it, no read.
		at := FormatTime(ev.At)
		m := &Message{ID: ev.ID.String(), ConversationID: conversationID, SenderID: userID, Body: body,
			ClientTempID: clientTempID, Seq: seq, CreatedAt: at, Quote: quote, Mentions: mentions, Attachments: atts}
		if data.ReplyTo != "" {
			m.ReplyTo = &data.ReplyTo
		}
		return m, true, nil
	}
	m, err := s.store.MessageByTempID(ctx, conversationID, userID, clientTempID)
	if err != nil {
		return nil, false, err
	}
	if m == nil {
		// The projector rejected the event: the sender left meanwhile.
		return nil, false, ErrConversationNotFound
	}
	return m, !dup && m.ID == ev.ID.String(), nil
}

// Edit replaces the body of the caller's own message.
func (s *Service) Edit(ctx context.Context, userID, conversationID, messageID, body string) (*Message, error) {
	body, err := s.limits.checkBody(body)
	if err != nil {
		return nil, err
	}
	m, err := s.ownMessage(ctx, userID, conversationID, messageID)
	if err != nil {
		return nil, err
	}
	if m.DeletedAt != nil {
		return nil, Errorf(KindConflict, "message_deleted", "a deleted message cannot be edited")
	}
	mentions, err := s.mentions(ctx, conversationID, userID, body)
	if err != nil {
		return nil, err
	}
	ev, err := NewEvent(MessageEdited, conversationID, userID, s.now(), MessageEditedData{MessageID: messageID, Body: body, Mentions: mentions})
	if err != nil {
		return nil, err
	}
	if _, _, err := s.appendAndWait(ctx, ev, ""); err != nil {
		return nil, err
	}
	return s.message(ctx, conversationID, messageID)
}

// Delete removes the caller's own message; deleting it again changes nothing.
func (s *Service) Delete(ctx context.Context, userID, conversationID, messageID string) (*Message, error) {
	m, err := s.ownMessage(ctx, userID, conversationID, messageID)
	if err != nil || m.DeletedAt != nil {
		return m, err
	}
	ev, err := NewEvent(MessageDeleted, conversationID, userID, s.now(), MessageDeletedData{MessageID: messageID})
	if err != nil {
		return nil, err
	}
	if _, _, err := s.appendAndWait(ctx, ev, ""); err != nil {
		return nil, err
	}
	return s.message(ctx, conversationID, messageID)
}

func (s *Service) ownMessage(ctx context.Context, userID, conversationID, messageID string) (*Message, error) {
	if _, err := s.participant(ctx, conversationID, userID); err != nil {
		return nil, err
	}
	m, err := s.message(ctx, conversationID, messageID)
	if err != nil {
		return nil, err
	}
	if m.SenderID != userID {
		return nil, Errorf(KindForbidden, "not_sender", "only the sender may change a message")
	}
	return m, nil
}

// MarkRead moves the caller's read marker forward to messageID. A message at
// or before the current marker changes nothing.
func (s *Service) MarkRead(ctx context.Context, userID, conversationID, messageID string) (*ReadState, error) {
	if !ValidID(messageID) {
		return nil, Errorf(KindInvalid, "invalid_message_id", "message_id must be a message id")
	}
	p, err := s.participant(ctx, conversationID, userID)
	if err != nil {
		return nil, err
	}
	m, err := s.message(ctx, conversationID, messageID)
	if err != nil {
		return nil, err
	}
	if m.Seq > p.LastReadSeq {
		ev, err := NewEvent(ConversationRead, conversationID, userID, s.now(), ConversationReadData{MessageID: messageID})
		if err != nil {
			return nil, err
		}
		if _, _, err := s.appendAndWait(ctx, ev, ""); err != nil {
			return nil, err
		}
	}
	snap, err := s.store.Snapshot(ctx, conversationID, userID)
	if err != nil {
		return nil, err
	}
	if snap == nil {
		return nil, ErrConversationNotFound
	}
	return &ReadState{Conversation: snap.Conversation, Summary: snap.Summary}, nil
}

// History returns a page of messages before the message beforeID (or the
// newest when empty), oldest first.
func (s *Service) History(ctx context.Context, userID, conversationID, beforeID string, limit int) (*MessagePage, error) {
	limit, err := PageLimit(limit, s.limits.DefaultPage, s.limits.MaxPage)
	if err != nil {
		return nil, err
	}
	if _, err := s.participant(ctx, conversationID, userID); err != nil {
		return nil, err
	}
	before, err := s.pageCursor(ctx, conversationID, beforeID)
	if err != nil {
		return nil, err
	}
	msgs, err := s.store.Messages(ctx, conversationID, before, limit+1)
	if err != nil {
		return nil, err
	}
	return s.page(ctx, userID, msgs, limit)
}

// Receipts lists who has read a message.
func (s *Service) Receipts(ctx context.Context, userID, conversationID, messageID string) ([]Receipt, error) {
	if _, err := s.participant(ctx, conversationID, userID); err != nil {
		return nil, err
	}
	if _, err := s.message(ctx, conversationID, messageID); err != nil {
		return nil, err
	}
	rs, err := s.store.Receipts(ctx, messageID)
	if rs == nil && err == nil {
		rs = []Receipt{}
	}
	return rs, err
}
