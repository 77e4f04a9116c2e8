package engine

// Message is a message as the read model holds it. ID is the ULID of its
// message.sent event and Seq that event's stream sequence.
type Message struct {
	ID             string  `json:"id"`
	ConversationID string  `json:"conversation_id"`
	SenderID       string  `json:"sender_id"`
	Body           string  `json:"body"`
	ClientTempID   string  `json:"client_temp_id"`
	Seq            uint64  `json:"seq"`
	CreatedAt      string  `json:"created_at"`
	EditedAt       *string `json:"edited_at"`
	DeletedAt      *string `json:"deleted_at"`

	// Mentions are the participants the body mentions.
	Mentions []string `json:"mentions,omitempty"`
	// Attachments are the files the message carries.
	Attachments []Attachment `json:"attachments,omitempty"`
	// ReplyTo is the message this one answers, with a short Quote of it.
	ReplyTo *string `json:"reply_to,omitempty"`
	Quote   *Quote  `json:"quote,omitempty"`
	// ReplyCount is the number of replies to this message not deleted, and
	// LastReplyAt the time of the latest reply.
	ReplyCount  int64   `json:"reply_count,omitempty"`
	LastReplyAt *string `json:"last_reply_at,omitempty"`
	// Reactions are the message's reactions with their counts, in the order
	// they were first put, and whether the caller is among them. Set in
	// history, replies and single-message answers.
	Reactions []Reaction `json:"reactions,omitempty"`
}

// Quote is the short form of a replied-to message a reply carries: its
// sender and the first characters of its body, or Deleted when it is.
type Quote struct {
	SenderID string `json:"sender_id"`
	Body     string `json:"body,omitempty"`
	Deleted  bool   `json:"deleted,omitempty"`
}

// QuoteRunes is how many characters of a body a quote keeps.
const QuoteRunes = 100

// QuoteOf makes the quote of a message.
func QuoteOf(m *Message) *Quote {
	if m.DeletedAt != nil {
		return &Quote{SenderID: m.SenderID, Deleted: true}
	}
	return &Quote{SenderID: m.SenderID, Body: Excerpt(m.Body, QuoteRunes)}
}

// Excerpt returns the first n characters of s.
func Excerpt(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// Reaction is one reaction key on a message: how many put it, and whether
// the caller did.
type Reaction struct {
	Emoji string `json:"emoji"`
	Count int64  `json:"count"`
	Me    bool   `json:"me"`
}

// ReactionState is a reaction as one user holds it: whether they put it and
// how many changes of it they made (0: never).
type ReactionState struct {
	Reacted bool
	Version uint64
}

// ConversationSummary is one conversation as one user sees it: the
// conversation's own fields plus that user's read marker and unread count.
type ConversationSummary struct {
	ID                string   `json:"id"`
	Kind              string   `json:"kind"`
	Title             string   `json:"title"`
	CreatedBy         string   `json:"created_by"`
	CreatedAt         string   `json:"created_at"`
	LastActivityAt    string   `json:"last_activity_at"`
	LastActivitySeq   uint64   `json:"last_activity_seq"`
	LastSeq           uint64   `json:"last_seq"`
	LastMessage       *Message `json:"last_message"`
	UnreadCount       int64    `json:"unread_count"`
	MentionCount      int64    `json:"mention_count"`
	LastReadMessageID *string  `json:"last_read_message_id"`
	LastReadSeq       uint64   `json:"last_read_seq"`
	ParticipantCount  int64    `json:"participant_count"`
	// The caller's settings: Muted (no offline notification but for a
	// mention), Archived (out of the default list until a new message),
	// Pinned (first in the list).
	Muted    bool `json:"muted"`
	Archived bool `json:"archived"`
	Pinned   bool `json:"pinned"`
}

// MemberSettings are one member's settings of a conversation as stored:
// ArchivedSeq is the sequence that archived it (0: never or unarchived),
// and Version counts the member's settings changes.
type MemberSettings struct {
	Muted       bool
	ArchivedSeq uint64
	Pinned      bool
	Version     uint64
}

// ArchivedAt reports whether the conversation is archived when its latest
// message is lastMessageSeq: a message after the archiving brings it back.
func (m MemberSettings) ArchivedAt(lastMessageSeq uint64) bool {
	return m.ArchivedSeq > 0 && lastMessageSeq < m.ArchivedSeq
}

// Participant is a member of a conversation with their read marker.
type Participant struct {
	UserID            string  `json:"user_id"`
	JoinedAt          string  `json:"joined_at"`
	JoinedSeq         uint64  `json:"joined_seq"`
	LastReadMessageID *string `json:"last_read_message_id"`
	LastReadSeq       uint64  `json:"last_read_seq"`
	LastReadAt        *string `json:"last_read_at"`
	// Muted is the participant's own setting, never shown to others: the
	// notifier reads it to leave them out.
	Muted bool `json:"-"`
}

// ConversationDetail is a conversation with its participants.
type ConversationDetail struct {
	ConversationSummary
	Participants []Participant `json:"participants"`
}

// UserSummary holds the per-user figures every answer that changes them carries.
type UserSummary struct {
	UnreadTotal int64 `json:"unread_total"`
}

// ConversationList is one page of a user's conversations, newest activity first.
type ConversationList struct {
	Conversations []ConversationSummary `json:"conversations"`
	Summary       UserSummary           `json:"summary"`
	NextCursor    *string               `json:"next_cursor"`
}

// MessagePage is one page of history, oldest first.
type MessagePage struct {
	Messages   []Message `json:"messages"`
	HasMore    bool      `json:"has_more"`
	NextBefore *string   `json:"next_before_id"`
}

// Receipt says a user has read a message.
type Receipt struct {
	UserID  string `json:"user_id"`
	ReadAt  string `json:"read_at"`
	ReadSeq uint64 `json:"read_seq"`
}

// ReadState is the answer to a read-marker move.
type ReadState struct {
	Conversation ConversationSummary `json:"conversation"`
	Summary      UserSummary         `json:"summary"`
}

// Delta is the answer to a reconnect: the conversation's events after the
// cursor, and the summary as of the same checkpoint.
type Delta struct {
	Events       []*WireEvent        `json:"events"`
	Conversation ConversationSummary `json:"conversation"`
	Summary      UserSummary         `json:"summary"`
	HasMore      bool                `json:"has_more"`
	LastSeq      uint64              `json:"last_seq"`

	// encoded holds, per event, its JSON when the memory of recent events
	// had it (nil where it must be encoded); see MarshalJSON.
	encoded [][]byte
	// lists, when set, is where Events and encoded came from; Release
	// gives them back.
	lists *deltaLists
}

// Snapshot is what the read model holds for one user and conversation at one
// checkpoint, read in a single transaction.
type Snapshot struct {
	Checkpoint   uint64
	Conversation ConversationSummary
	Summary      UserSummary
	// Settings are the user's settings as stored (the summary has their
	// effect), so a later message can be told to bring an archived
	// conversation back.
	Settings MemberSettings
}
