package engine

import (
	"context"
	"strings"
)

// ChannelKind classifies a realtime channel name.
type ChannelKind int

// The channel families. Parley publishes on the first four; the others are
// accepted for compatibility with Pusher clients but carry nothing.
const (
	ChannelConversation         ChannelKind = iota + 1 // private-conversation.<id>
	ChannelUser                                        // private-user.<id>
	ChannelPresenceConversation                        // presence-conversation.<id>
	ChannelPresenceMessaging                           // presence-messaging
	ChannelPublic                                      // no prefix: anyone, no events
	ChannelOtherPrivate                                // private-/presence- names Parley does not serve
)

// Channel name parts.
const (
	conversationPrefix         = "private-conversation."
	userPrefix                 = "private-user."
	presenceConversationPrefix = "presence-conversation."
	// PresenceMessaging is the inbox-level presence channel: who is online.
	PresenceMessaging = "presence-messaging"
	// inboxPrefix names a user's internal all-conversations channel (SSE).
	// '#' is not allowed in Pusher channel names, so no socket can ask for it.
	inboxPrefix = "#inbox."
)

// MaxChannelNameLen is Pusher's limit on channel names.
const MaxChannelNameLen = 164

// Channel is a parsed channel name.
type Channel struct {
	Name           string
	Kind           ChannelKind
	ConversationID string // for the conversation families
	UserID         string // for private-user
}

// Private reports whether subscribing needs a signature (private- and
// presence- channels).
func (c Channel) Private() bool { return c.Kind != ChannelPublic }

// Presence reports whether the channel tracks members.
func (c Channel) Presence() bool { return strings.HasPrefix(c.Name, "presence-") }

// ConversationChannel is the channel of a conversation's events and typing.
func ConversationChannel(conversationID string) string { return conversationPrefix + conversationID }

// UserChannel is the channel of a user's conversation.updated events.
func UserChannel(userID string) string { return userPrefix + userID }

// PresenceConversationChannel is the channel of who is viewing a conversation.
func PresenceConversationChannel(conversationID string) string {
	return presenceConversationPrefix + conversationID
}

// InboxChannel is the internal channel that carries every event of every
// conversation of a user, followed by its conversation.updated: what one SSE
// stream delivers. No Pusher client can subscribe to it.
func InboxChannel(userID string) string { return inboxPrefix + userID }

// ErrInvalidChannel is a channel name that is empty, too long or uses
// characters Pusher does not allow.
var ErrInvalidChannel = Errorf(KindMalformed, "invalid_channel", "channel names are 1-%d characters of A-Z a-z 0-9 _ - = @ , . ;", MaxChannelNameLen)

// ErrChannelForbidden is the answer to a subscription the user may not make.
var ErrChannelForbidden = Errorf(KindForbidden, "channel_forbidden", "you may not subscribe to this channel")

// ParseChannel validates a channel name and tells its family.
func ParseChannel(name string) (Channel, error) {
	if len(name) == 0 || len(name) > MaxChannelNameLen {
		return Channel{}, ErrInvalidChannel
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("_-=@,.;", c) >= 0:
		default:
			return Channel{}, ErrInvalidChannel
		}
	}
	ch := Channel{Name: name}
	switch {
	case name == PresenceMessaging:
		ch.Kind = ChannelPresenceMessaging
	case strings.HasPrefix(name, conversationPrefix) && ValidID(name[len(conversationPrefix):]):
		ch.Kind, ch.ConversationID = ChannelConversation, name[len(conversationPrefix):]
	case strings.HasPrefix(name, presenceConversationPrefix) && ValidID(name[len(presenceConversationPrefix):]):
		ch.Kind, ch.ConversationID = ChannelPresenceConversation, name[len(presenceConversationPrefix):]
	case strings.HasPrefix(name, userPrefix) && ValidUserID(name[len(userPrefix):]):
		ch.Kind, ch.UserID = ChannelUser, name[len(userPrefix):]
	case strings.HasPrefix(name, "private-"), strings.HasPrefix(name, "presence-"):
		ch.Kind = ChannelOtherPrivate
	default:
		ch.Kind = ChannelPublic
	}
	return ch, nil
}

// AuthorizeChannel decides whether userID may subscribe to the named
// channel: a participant for a conversation's channels, the user themself
// for private-user, anyone authenticated for presence-messaging. Anything
// else is ErrChannelForbidden; a malformed name is ErrInvalidChannel; a
// node that could not tell (catching up) answers as participant does.
func (s *Service) AuthorizeChannel(ctx context.Context, userID, name string) (Channel, error) {
	ch, err := ParseChannel(name)
	if err != nil {
		return Channel{}, err
	}
	switch ch.Kind {
	case ChannelPresenceMessaging:
		return ch, nil
	case ChannelUser:
		if ch.UserID == userID {
			return ch, nil
		}
	case ChannelConversation, ChannelPresenceConversation:
		// As REST lookups do: a node behind the log waits, and answers
		// catching_up rather than "forbidden" when it gives up.
		_, err := s.participant(ctx, ch.ConversationID, userID)
		if err == nil {
			return ch, nil
		}
		if AsError(err) != ErrConversationNotFound {
			return Channel{}, err
		}
	}
	return Channel{}, ErrChannelForbidden
}

// IsParticipant reports whether userID is in the conversation (false for an
// id that is not a conversation id).
func (s *Service) IsParticipant(ctx context.Context, conversationID, userID string) (bool, error) {
	if _, err := s.participant(ctx, conversationID, userID); err != nil {
		if AsError(err) == ErrConversationNotFound {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// Realtime event names that are not log event types.
const (
	// EventConversationUpdated carries a ConversationUpdate on private-user.<id>.
	EventConversationUpdated = "conversation.updated"
	// EventConversationRemoved tells a user they left or were removed.
	EventConversationRemoved = "conversation.removed"
	// EventMemberAdded and EventMemberRemoved carry a Member on presence channels.
	EventMemberAdded   = "member_added"
	EventMemberRemoved = "member_removed"
	// EventTyping is the client event of a typing indicator (Echo's whisper("typing")).
	EventTyping = "client-typing"
)

// RealtimeName is the name a log event carries on realtime channels:
// conversation.read is delivered as message.read, the rest keep their type.
func RealtimeName(t EventType) string {
	if t == ConversationRead {
		return "message.read"
	}
	return string(t)
}

// ConversationUpdate is the payload of conversation.updated: the
// conversation as one participant sees it, their unread total, and the
// sequence of the last event it reflects.
type ConversationUpdate struct {
	Conversation ConversationSummary `json:"conversation"`
	Summary      UserSummary         `json:"summary"`
	Seq          uint64              `json:"seq"`
}

// ConversationRemoval is the payload of conversation.removed.
type ConversationRemoval struct {
	ConversationID string      `json:"conversation_id"`
	Summary        UserSummary `json:"summary"`
	Seq            uint64      `json:"seq"`
}
