package engine

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/oklog/ulid/v2"
)

// CreateConversation creates a conversation between the caller and
// participantIDs. Two people and no title make a direct conversation, which
// exists once per pair: asking again returns the existing one with
// created=false.
func (s *Service) CreateConversation(ctx context.Context, userID string, participantIDs []string, title string) (*ConversationDetail, bool, error) {
	title, err := s.limits.checkTitle(title)
	if err != nil {
		return nil, false, err
	}
	if err := checkUserIDs(participantIDs, "participant_ids"); err != nil {
		return nil, false, err
	}
	ids := append([]string{userID}, participantIDs...)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) < 2 {
		return nil, false, Errorf(KindInvalid, "participants_required", "participant_ids must name at least one other user")
	}
	if len(ids) > s.limits.MaxParticipants {
		return nil, false, Errorf(KindInvalid, "too_many_participants", "a conversation has at most %d participants", s.limits.MaxParticipants)
	}
	data := ConversationCreatedData{Kind: KindGroup, Title: title, ParticipantIDs: ids}
	key := ""
	if len(ids) == 2 && title == "" {
		data.Kind, data.DirectKey = KindDirect, strings.Join(ids, "|")
		key = "direct:" + data.DirectKey
		if existing, err := s.store.DirectConversation(ctx, data.DirectKey); err != nil {
			return nil, false, err
		} else if existing != "" {
			d, err := s.Conversation(ctx, userID, existing)
			return d, false, err
		}
	}
	convID := ulid.Make().String()
	ev, err := NewEvent(ConversationCreated, convID, userID, s.now(), data)
	if err != nil {
		return nil, false, err
	}
	if _, _, err := s.appendAndWait(ctx, ev, key); err != nil {
		return nil, false, err
	}
	if data.Kind == KindDirect {
		existing, err := s.store.DirectConversation(ctx, data.DirectKey)
		if err != nil {
			return nil, false, err
		}
		if existing != convID {
			d, err := s.Conversation(ctx, userID, existing)
			return d, false, err
		}
	}
	d, err := s.Conversation(ctx, userID, convID)
	return d, err == nil, err
}

// Conversation returns one conversation with its participants and read markers.
func (s *Service) Conversation(ctx context.Context, userID, conversationID string) (*ConversationDetail, error) {
	sum, err := s.summary(ctx, conversationID, userID)
	if err != nil {
		return nil, err
	}
	ps, err := s.store.Participants(ctx, conversationID)
	if err != nil {
		return nil, err
	}
	return &ConversationDetail{ConversationSummary: *sum, Participants: ps}, nil
}

// Conversations returns a page of the caller's conversations, newest
// activity first, with the caller's unread total. cursor is the
// next_cursor of the previous page, or empty for the first.
func (s *Service) Conversations(ctx context.Context, userID, cursor string, limit int) (*ConversationList, error) {
	return s.ListConversations(ctx, userID, ListQuery{Cursor: cursor, Limit: limit})
}

// ListQuery selects a page of a user's conversations: after Cursor (a
// previous page's next_cursor), Limit of them, the archived ones when
// Archived is set.
type ListQuery struct {
	Cursor   string
	Limit    int
	Archived bool
}

// ListConversations is Conversations with every option. The first page of
// the default list starts with the pinned conversations (at most MaxPins),
// before Limit others; the archived ones are left out until a new message
// comes.
func (s *Service) ListConversations(ctx context.Context, userID string, q ListQuery) (*ConversationList, error) {
	limit, err := PageLimit(q.Limit, s.limits.DefaultPage, s.limits.MaxPage)
	if err != nil {
		return nil, err
	}
	before, err := parseListCursor(q.Cursor)
	if err != nil {
		return nil, err
	}
	var pinned []ConversationSummary
	if q.Cursor == "" && !q.Archived {
		if pinned, err = s.store.Conversations(ctx, userID, 0, MaxPins, false, true); err != nil {
			return nil, err
		}
	}
	list, err := s.store.Conversations(ctx, userID, before, limit+1, q.Archived, false)
	if err != nil {
		return nil, err
	}
	total, err := s.store.UnreadTotal(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := &ConversationList{Conversations: list, Summary: UserSummary{UnreadTotal: total}}
	if len(list) > limit {
		out.Conversations = list[:limit]
		next := strconv.FormatUint(list[limit-1].LastActivitySeq, 10)
		out.NextCursor = &next
	}
	if len(pinned) > 0 {
		out.Conversations = append(pinned, out.Conversations...)
	}
	return out, nil
}

// AddParticipants adds users to a group conversation the caller is in.
// Users already in it are left as they are.
func (s *Service) AddParticipants(ctx context.Context, userID, conversationID string, userIDs []string) (*ConversationDetail, error) {
	sum, err := s.summary(ctx, conversationID, userID)
	if err != nil {
		return nil, err
	}
	if sum.Kind == KindDirect {
		return nil, Errorf(KindInvalid, "direct_conversation", "a direct conversation's participants cannot change")
	}
	if len(userIDs) == 0 || len(userIDs) > s.limits.MaxAddParticipants {
		return nil, Errorf(KindInvalid, "invalid_user_ids", "user_ids must hold 1 to %d users", s.limits.MaxAddParticipants)
	}
	if err := checkUserIDs(userIDs, "user_ids"); err != nil {
		return nil, err
	}
	current, err := s.store.Participants(ctx, conversationID)
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(current))
	for _, p := range current {
		have[p.UserID] = true
	}
	var add []string
	for _, id := range userIDs {
		if !have[id] {
			have[id] = true
			add = append(add, id)
		}
	}
	if len(current)+len(add) > s.limits.MaxParticipants {
		return nil, Errorf(KindInvalid, "too_many_participants", "a conversation has at most %d participants", s.limits.MaxParticipants)
	}
	var last uint64
	for _, id := range add {
		ev, err := NewEvent(ParticipantAdded, conversationID, userID, s.now(), ParticipantData{UserID: id})
		if err != nil {
			return nil, err
		}
		if last, _, err = s.log.Append(ctx, ev, ""); err != nil {
			return nil, err
		}
	}
	if err := s.await(ctx, last); err != nil {
		return nil, err
	}
	return s.Conversation(ctx, userID, conversationID)
}

// RemoveParticipant removes a user from a group conversation. Anyone may
// leave; only the conversation's creator may remove someone else.
func (s *Service) RemoveParticipant(ctx context.Context, userID, conversationID, targetID string) error {
	sum, err := s.summary(ctx, conversationID, userID)
	if err != nil {
		return err
	}
	if sum.Kind == KindDirect {
		return Errorf(KindInvalid, "direct_conversation", "a direct conversation's participants cannot change")
	}
	if targetID != userID && sum.CreatedBy != userID {
		return Errorf(KindForbidden, "forbidden", "only the conversation's creator may remove others")
	}
	if !ValidUserID(targetID) {
		return Errorf(KindNotFound, "participant_not_found", "that user is not a participant")
	}
	p, err := s.store.Participant(ctx, conversationID, targetID)
	if err != nil {
		return err
	}
	if p == nil {
		return Errorf(KindNotFound, "participant_not_found", "that user is not a participant")
	}
	ev, err := NewEvent(ParticipantRemoved, conversationID, userID, s.now(), ParticipantData{UserID: targetID})
	if err != nil {
		return err
	}
	_, _, err = s.appendAndWait(ctx, ev, "")
	return err
}

// parseListCursor reads a conversation list cursor (empty: the first page).
func parseListCursor(cursor string) (uint64, error) {
	if cursor == "" {
		return 0, nil
	}
	before, err := strconv.ParseUint(cursor, 10, 64)
	if err != nil || before == 0 {
		return 0, Errorf(KindMalformed, "invalid_cursor", "cursor is not a value this API returned")
	}
	return before, nil
}
