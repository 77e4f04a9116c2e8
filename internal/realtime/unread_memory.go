package realtime

import (
	"bytes"
	"context"
	"slices"

	json "github.com/goccy/go-json"

	"parley/engine"
)

// unreadMemory holds the unread counts of the users someone on this node
// listens for, so a message costs the dispatcher a few additions per
// connected member instead of a read of every member's row. A user's counts
// are read from the read model the first time an event needs them (one
// Snapshot, which says the checkpoint it reflects) and then follow the
// committed events after that checkpoint. What the memory cannot follow
// cheaply (a read marker moving, a deletion, a membership change) makes it
// forget the users concerned, who are read again when next needed. Only the
// dispatcher's goroutine uses it.
type unreadMemory struct {
	users map[string]*userCounts
}

// userCounts is one user's unread total and the counts of the conversations
// already read for them.
type userCounts struct {
	asOf  uint64 // the checkpoint total reflects
	total int64
	convs map[string]*memberCounts
}

// memberCounts is one user's unread count and read marker in one
// conversation, as of a checkpoint.
type memberCounts struct {
	asOf        uint64
	unread      int64
	mentions    int64
	settings    engine.MemberSettings // Pinned and Muted; ArchivedSeq
	lastReadID  *string
	lastReadSeq uint64
}

// Bounds of the memory: past them it forgets, and reads again what it needs.
const (
	unreadMaxUsers = 50000
	unreadMaxConvs = 256 // per user
)

func newUnreadMemory() *unreadMemory { return &unreadMemory{users: map[string]*userCounts{}} }

// sent counts a new message for the members other than its sender whose
// counts the memory holds.
func (u *unreadMemory) sent(ev engine.Event, members []string) {
	var d engine.MessageSentData
	if bytes.Contains(ev.Data, []byte(`"mentions"`)) && json.Unmarshal(ev.Data, &d) != nil {
		u.forget(members...) // cannot tell who it mentions
		return
	}
	for _, id := range members {
		uc := u.users[id]
		if uc == nil || id == ev.ActorID {
			continue
		}
		if ev.Seq > uc.asOf {
			uc.total++
		}
		if mc := uc.convs[ev.ConversationID]; mc != nil && ev.Seq > mc.asOf {
			mc.unread++
			if slices.Contains(d.Mentions, id) {
				mc.mentions++
			}
		}
	}
}

// edited forgets the members an edit may mention or may stop mentioning:
// those it mentions, and those with a mention in the conversation counted.
func (u *unreadMemory) edited(ev engine.Event, members []string) {
	var d engine.MessageEditedData
	if json.Unmarshal(ev.Data, &d) != nil {
		u.forget(members...)
		return
	}
	u.forget(d.Mentions...)
	for _, id := range members {
		if uc := u.users[id]; uc != nil {
			if mc := uc.convs[ev.ConversationID]; mc != nil && mc.mentions > 0 {
				delete(uc.convs, ev.ConversationID)
			}
		}
	}
}

// forgetConv drops what the memory holds of user's view of one
// conversation.
func (u *unreadMemory) forgetConv(user, conversationID string) {
	if uc := u.users[user]; uc != nil {
		delete(uc.convs, conversationID)
	}
}

// forget drops what the memory holds of users.
func (u *unreadMemory) forget(users ...string) {
	for _, id := range users {
		delete(u.users, id)
	}
}

// apply follows one committed event for the conversation's members (those
// the dispatcher cares for).
func (u *unreadMemory) apply(ev engine.Event, members []string, target string) {
	switch ev.Type {
	case engine.MessageSent:
		u.sent(ev, members)
	case engine.MessageEdited:
		u.edited(ev, members)
	case engine.MessageReacted:
	case engine.ConversationRead:
		u.forget(ev.ActorID)
	case engine.ParticipantAdded, engine.ParticipantRemoved:
		u.forget(target)
	default: // a deletion lowers the counts of those who had not read it; a new conversation
		u.forget(members...)
	}
}

// counts returns a user's summary of a conversation and their total, from
// memory when it holds them and from the read model otherwise; base is the
// conversation's shared part. ok is false when the user is not a
// participant (any more) or the read failed.
func (u *unreadMemory) counts(ctx context.Context, reader SummaryReader, base *engine.ConversationSummary, user string) (engine.ConversationSummary, int64, bool, error) {
	uc := u.users[user]
	if uc != nil {
		if mc := uc.convs[base.ID]; mc != nil {
			s := *base
			s.UnreadCount, s.LastReadMessageID, s.LastReadSeq, s.MentionCount = mc.unread, mc.lastReadID, mc.lastReadSeq, mc.mentions
			var lastMessage uint64
			if s.LastMessage != nil {
				lastMessage = s.LastMessage.Seq
			}
			s.Muted, s.Pinned, s.Archived = mc.settings.Muted, mc.settings.Pinned, mc.settings.ArchivedAt(lastMessage)
			return s, uc.total, true, nil
		}
	}
	snap, err := reader.Snapshot(ctx, base.ID, user)
	if err != nil || snap == nil {
		return engine.ConversationSummary{}, 0, false, err
	}
	if uc == nil || len(uc.convs) >= unreadMaxConvs {
		if len(u.users) >= unreadMaxUsers {
			clear(u.users)
		}
		uc = &userCounts{convs: map[string]*memberCounts{}}
		u.users[user] = uc
	}
	// The snapshot is one consistent read: its total replaces the one held,
	// and events up to its checkpoint are in it.
	uc.asOf, uc.total = snap.Checkpoint, snap.Summary.UnreadTotal
	c := snap.Conversation
	uc.convs[base.ID] = &memberCounts{asOf: snap.Checkpoint, unread: c.UnreadCount, mentions: c.MentionCount, lastReadID: c.LastReadMessageID,
		lastReadSeq: c.LastReadSeq, settings: snap.Settings}
	s := *base
	s.UnreadCount, s.LastReadMessageID, s.LastReadSeq, s.MentionCount = c.UnreadCount, c.LastReadMessageID, c.LastReadSeq, c.MentionCount
	s.Muted, s.Pinned, s.Archived = c.Muted, c.Pinned, c.Archived
	return s, uc.total, true, nil
}

// prune forgets the users nobody on this node listens for any more.
func (u *unreadMemory) prune(heard func(user string) bool) {
	for id := range u.users {
		if !heard(id) {
			delete(u.users, id)
		}
	}
}
