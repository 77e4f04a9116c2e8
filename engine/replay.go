package engine

import (
	"context"
	"sort"
)

// ChangeFinder finds a user's conversations with accepted events after a
// sequence. projections.DB is one.
type ChangeFinder interface {
	// ConversationsChangedSince lists up to limit ids of the user's
	// conversations whose last accepted event is after afterSeq, oldest
	// change first.
	ConversationsChangedSince(ctx context.Context, userID string, afterSeq uint64, limit int) ([]string, error)
}

// ReplayLimits bound what one reconnect replays; beyond them the client is
// told to resynchronise over REST.
type ReplayLimits struct {
	MaxConversations int // default 100
	MaxEvents        int // default 2000
}

// Replay is what a stream client missed after its last sequence: every
// event of its conversations up to UpTo, in stream order, each
// conversation's first event preceded by its current conversation.updated.
type Replay struct {
	Items []ReplayItem
	// UpTo is the checkpoint the replay covers; live events at or below it
	// are duplicates.
	UpTo uint64
	// Complete is false when the client missed more than the limits allow.
	Complete bool
}

// ReplayItem is one replayed event or conversation update.
type ReplayItem struct {
	Event  *WireEvent
	Update *ConversationUpdate
}

// ReplayCheckpoint is the read model's checkpoint: a stream subscribed
// before reading it receives every later event live.
func (s *Service) ReplayCheckpoint() uint64 { return s.store.Applied() }

// Replay collects the user's events after afterSeq up to upTo (a checkpoint
// read after the caller subscribed to live delivery). An afterSeq beyond the
// log is ErrUnknownCursor.
func (s *Service) Replay(ctx context.Context, finder ChangeFinder, userID string, afterSeq, upTo uint64, lim ReplayLimits) (*Replay, error) {
	if lim.MaxConversations <= 0 {
		lim.MaxConversations = 100
	}
	if lim.MaxEvents <= 0 {
		lim.MaxEvents = 2000
	}
	r := &Replay{UpTo: upTo, Complete: true}
	if afterSeq >= upTo {
		if afterSeq > upTo {
			last, err := s.log.LastSeq(ctx)
			if err != nil {
				return nil, err
			}
			if afterSeq > last {
				return nil, ErrUnknownCursor
			}
		}
		return r, nil
	}
	convs, err := finder.ConversationsChangedSince(ctx, userID, afterSeq, lim.MaxConversations+1)
	if err != nil {
		return nil, err
	}
	if len(convs) > lim.MaxConversations {
		r.Complete = false
		return r, nil
	}
	var events []WireEvent
	updates := map[string]*ConversationUpdate{}
	for _, conv := range convs {
		evs, upd, err := s.replayConversation(ctx, userID, conv, afterSeq, upTo, lim.MaxEvents-len(events))
		if err != nil {
			return nil, err
		}
		if upd == nil { // not a participant any more
			continue
		}
		if len(events)+len(evs) > lim.MaxEvents {
			r.Complete = false
			return r, nil
		}
		events = append(events, evs...)
		updates[conv] = upd
	}
	sort.Slice(events, func(i, j int) bool { return events[i].Seq < events[j].Seq })
	for i := range events {
		ev := &events[i]
		if u := updates[ev.ConversationID]; u != nil {
			r.Items = append(r.Items, ReplayItem{Update: u})
			delete(updates, ev.ConversationID)
		}
		r.Items = append(r.Items, ReplayItem{Event: ev})
	}
	return r, nil
}

// replayConversation pages one conversation's delta from afterSeq to upTo;
// it stops early once more than budget events were read.
func (s *Service) replayConversation(ctx context.Context, userID, conv string, afterSeq, upTo uint64, budget int) ([]WireEvent, *ConversationUpdate, error) {
	var out []WireEvent
	var upd *ConversationUpdate
	cur := afterSeq
	for {
		d, err := s.Delta(ctx, userID, conv, DeltaCursor{AfterSeq: cur, HasSeq: true}, s.limits.MaxDelta)
		if err != nil {
			// Not a member as far as this node has applied, which covers
			// upTo: nothing to replay, whether or not the log goes further.
			if e := AsError(err); e == ErrConversationNotFound || e == ErrCatchingUp || e == ErrLogUnavailable {
				return nil, nil, nil
			}
			return nil, nil, err
		}
		if upd == nil {
			upd = &ConversationUpdate{Conversation: d.Conversation, Summary: d.Summary, Seq: d.Conversation.LastSeq}
		}
		for _, ev := range d.Events {
			if ev.Seq <= upTo {
				out = append(out, *ev)
			}
		}
		if !d.HasMore || d.LastSeq >= upTo || d.LastSeq <= cur || len(out) > budget {
			return out, upd, nil
		}
		cur = d.LastSeq
	}
}
