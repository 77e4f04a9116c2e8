package engine

import "context"

// Log is the event log. Implementations must be safe for concurrent use.
type Log interface {
	// Append stores ev in its conversation's order. A non-empty key is the
	// event's idempotency key (SendKey, for one): when the log already holds
	// an event with that key it stores nothing and returns the original
	// sequence with duplicate=true.
	Append(ctx context.Context, ev Event, key string) (seq uint64, duplicate bool, err error)
	// ConversationEvents returns up to limit events of one conversation with a
	// sequence above afterSeq, in stream order, and whether the log holds more
	// after the last one returned. Its cost follows limit, not the
	// conversation's history.
	ConversationEvents(ctx context.Context, conversationID string, afterSeq uint64, limit int) (evs []Event, more bool, err error)
	// LastSeq is the stream's last sequence.
	LastSeq(ctx context.Context) (uint64, error)
}

// Store is the read model, as the commands and queries need it. Lookups of a
// single thing return (nil, nil) when it does not exist.
type Store interface {
	// Applied is the last stream sequence the projector has committed.
	Applied() uint64
	// Outcome reports whether the projector accepted the applied event at
	// seq; known is false when this node no longer (or never) remembers.
	Outcome(seq uint64) (accepted, known bool)
	// SendCheck answers a send's first questions in one read: is the user a
	// participant, and did they already send this client_temp_id here.
	SendCheck(ctx context.Context, conversationID, userID, clientTempID string) (member bool, existing *Message, err error)
	// WaitApplied blocks until Applied() >= seq or ctx ends.
	WaitApplied(ctx context.Context, seq uint64) error

	Participant(ctx context.Context, conversationID, userID string) (*Participant, error)
	Summary(ctx context.Context, conversationID, userID string) (*ConversationSummary, error)
	Participants(ctx context.Context, conversationID string) ([]Participant, error)
	// Settings returns userID's settings of the conversation and its last
	// message's sequence; nil when not a participant.
	Settings(ctx context.Context, conversationID, userID string) (*MemberSettings, uint64, error)
	// Search returns a page of the hits of req, best first, and whether
	// more follow (within the candidates).
	Search(ctx context.Context, req SearchRequest) ([]SearchHit, bool, error)
	// MessageSeq is the sequence of a message in one of userID's
	// conversations, 0 when there is none.
	MessageSeq(ctx context.Context, userID, messageID string) (uint64, error)
	// AttachmentUse says which message carries an attachment; nil when none.
	AttachmentUse(ctx context.Context, id string) (*AttachmentUse, error)
	// PinnedCount is how many conversations userID has pinned.
	PinnedCount(ctx context.Context, userID string) (int, error)
	// ParticipantsAmong returns those of userIDs who are participants.
	ParticipantsAmong(ctx context.Context, conversationID string, userIDs []string) ([]string, error)
	// Conversations lists userID's conversations, newest activity first:
	// the archived ones only when archived is set, else the others; with
	// pinned set only the pinned ones (not archived), with it unset none of them.
	Conversations(ctx context.Context, userID string, beforeActivitySeq uint64, limit int, archived, pinned bool) ([]ConversationSummary, error)
	UnreadTotal(ctx context.Context, userID string) (int64, error)
	DirectConversation(ctx context.Context, directKey string) (string, error)

	Message(ctx context.Context, conversationID, messageID string) (*Message, error)
	// MessageWithParticipants reads a message and its conversation's
	// participants at once; (nil, nil, nil) when the message does not exist.
	MessageWithParticipants(ctx context.Context, conversationID, messageID string) (*Message, []Participant, error)
	MessageByTempID(ctx context.Context, conversationID, senderID, clientTempID string) (*Message, error)
	Messages(ctx context.Context, conversationID string, beforeSeq uint64, limit int) ([]Message, error)
	Receipts(ctx context.Context, messageID string) ([]Receipt, error)
	// Replies returns up to limit replies to the message at parentSeq with a
	// sequence below beforeSeq (0: the newest), oldest first.
	Replies(ctx context.Context, parentSeq, beforeSeq uint64, limit int) ([]Message, error)
	// Reactions returns the reactions of the messages at seqs, as userID
	// sees them (Me), by message sequence; messages without any are absent.
	Reactions(ctx context.Context, userID string, seqs []uint64) (map[uint64][]Reaction, error)
	// ReactionState is userID's reaction emoji on the message at seq.
	ReactionState(ctx context.Context, seq uint64, userID, emoji string) (ReactionState, error)

	// Snapshot reads the checkpoint, the user's summary of the conversation
	// and their unread total in one transaction; nil when not a participant.
	Snapshot(ctx context.Context, conversationID, userID string) (*Snapshot, error)
	// Deleted returns the messages of this conversation with a sequence in
	// (from, to] that are deleted now, by id, with their deletion time.
	Deleted(ctx context.Context, conversationID string, from, to uint64) (map[string]string, error)
	// DeletedAmong returns which of the messages ids of this conversation
	// are deleted now, with their deletion time.
	DeletedAmong(ctx context.Context, conversationID string, ids []string) (map[string]string, error)
	// Skipped returns the sequences in (from, to] of this conversation's
	// events that the projector rejected (duplicates, stale commands).
	Skipped(ctx context.Context, conversationID string, from, to uint64) (map[uint64]bool, error)
}
