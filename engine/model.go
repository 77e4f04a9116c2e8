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
	LastReadMessageID *string  `json:"last_read_message_id"`
	LastReadSeq       uint64   `json:"last_read_seq"`
	ParticipantCount  int64    `json:"participant_count"`
}

// Participant is a member of a conversation with their read marker.
type Participant struct {
	UserID            string  `json:"user_id"`
	JoinedAt          string  `json:"joined_at"`
	JoinedSeq         uint64  `json:"joined_seq"`
	LastReadMessageID *string `json:"last_read_message_id"`
	LastReadSeq       uint64  `json:"last_read_seq"`
	LastReadAt        *string `json:"last_read_at"`
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
}
