package notify

import (
	"parley/engine"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// The event types of the NOTIFICATIONS stream. They are events like the
// messaging ones, appended to their own stream, so every node's projection
// builds the same notifications table and a rebuild reproduces it.
const (
	// NotificationOpened records that a message found a recipient offline
	// with no notification of theirs open in the conversation: it opens one,
	// whose window lasts WindowMillis from the message. The messages of the
	// conversation that follow within the window are not recorded per
	// recipient: the notification's count and last message are derived from
	// the conversation's messages when it is read.
	NotificationOpened engine.EventType = "notification.opened"
	// NotificationCreated records that one offline recipient was told about
	// one message. The projection collapses several of them into one
	// notification (see SameBatch). Notifiers no longer append it (they
	// append NotificationOpened); logs that hold it still replay as before.
	NotificationCreated engine.EventType = "notification.created"
	// NotificationsRead marks notifications of the event's actor as read.
	NotificationsRead engine.EventType = "notifications.read"
	// DeadLettered records a job that failed every attempt: a webhook that
	// could not be delivered, or a message whose notifications could not be
	// made.
	DeadLettered engine.EventType = "dead_letter.recorded"
)

// NotificationCreatedData is the payload of notification.created. The event's
// ConversationID and At are the message's; ActorID is the sender. Window is
// the batching window in force when the event was made, so applying the event
// never depends on the configuration of the node that applies it.
type NotificationCreatedData struct {
	UserID       string `json:"user_id"`
	MessageID    string `json:"message_id"`
	MessageSeq   uint64 `json:"message_seq"`
	Preview      string `json:"preview"`
	WindowMillis int64  `json:"window_ms"`
}

// NotificationOpenedData is the payload of notification.opened. The event's
// ConversationID and At are the message's; ActorID is the sender.
// WindowMillis is the window in force when the event was made, so applying
// the event never depends on the configuration of the node that applies it.
type NotificationOpenedData struct {
	UserID       string `json:"user_id"`
	MessageID    string `json:"message_id"`
	MessageSeq   uint64 `json:"message_seq"`
	WindowMillis int64  `json:"window_ms"`
}

// NotificationsReadData is the payload of notifications.read: either the ids
// of notifications to mark, or All for every notification of the actor that
// the stream held before this event.
type NotificationsReadData struct {
	IDs []string `json:"ids,omitempty"`
	All bool     `json:"all,omitempty"`
}

// Dead-letter kinds.
const (
	DeadWebhook      = "webhook"
	DeadNotification = "notification"
)

// DeadLetteredData is the payload of dead_letter.recorded. Ref names what
// failed: a notification id for a webhook, a message id for notifications.
type DeadLetteredData struct {
	Kind      string `json:"kind"`
	Ref       string `json:"ref"`
	UserID    string `json:"user_id,omitempty"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
}

// NotifyKey is the idempotency key of the notification event of one message
// for one user: a redelivered message appends nothing new.
func NotifyKey(messageID, userID string) string { return "notify:" + messageID + ":" + userID }

// DeadKey is the idempotency key of a dead letter.
func DeadKey(kind, ref string) string { return "dead:" + kind + ":" + ref }

// DefaultNotifyWindow is how long after the message that opened a
// notification further messages of the same conversation join it instead of
// opening another.
const DefaultNotifyWindow = 60 * time.Second

// PreviewChars bounds the message excerpt a notification carries.
const PreviewChars = 140

// Preview is the excerpt of a message body a notification carries: at most
// PreviewChars characters, whitespace runs collapsed, "…" when cut.
func Preview(body string) string {
	s := strings.Join(strings.Fields(body), " ")
	if utf8.RuneCountInString(s) <= PreviewChars {
		return s
	}
	r := []rune(s)
	return string(r[:PreviewChars-1]) + "…"
}

// NotificationRecipients are the participants a message notifies, before
// presence is asked: everyone but the sender who had joined the conversation
// before the message (seq is the message's stream sequence) and has not
// muted it, unless the message mentions them, in the order given.
func NotificationRecipients(ps []engine.Participant, senderID string, seq uint64, mentions []string) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if notifies(p.UserID, p.JoinedSeq, senderID, seq) && (!p.Muted || slices.Contains(mentions, p.UserID)) {
			out = append(out, p.UserID)
		}
	}
	return out
}

// notifies reports whether a participant who joined at joinedSeq is a
// recipient of senderID's message at seq: not the sender, and joined before.
func notifies(userID string, joinedSeq uint64, senderID string, seq uint64) bool {
	return userID != senderID && joinedSeq < seq
}

// SameBatch reports whether a message at `at` joins a notification opened
// at `opened` whose window ends at windowEnds: while the notification is
// unread, messages of its conversation up to the end of its window belong
// to it (its count grows, its last message moves); the first one after
// opens a new notification. A notification opened without a window takes
// nothing.
func SameBatch(opened, windowEnds, at time.Time) bool {
	return windowEnds.After(opened) && at.Before(windowEnds)
}

// Notification is one entry of a user's notification list: the messages of
// a conversation from others within one window that opened while the user
// was offline. MessageID is the message that opened it; Count, LastMessageID,
// SenderID, Preview and UpdatedAt describe the messages of the window that
// are not deleted (the newest of them), as the read model holds them when
// it is read.
type Notification struct {
	ID             string  `json:"id"`
	Seq            uint64  `json:"seq"`
	UserID         string  `json:"user_id"`
	ConversationID string  `json:"conversation_id"`
	MessageID      string  `json:"message_id"`
	LastMessageID  string  `json:"last_message_id"`
	SenderID       string  `json:"sender_id"`
	Preview        string  `json:"preview"`
	Count          int64   `json:"count"`
	CreatedAt      string  `json:"created_at"`
	UpdatedAt      string  `json:"updated_at"`
	ReadAt         *string `json:"read_at"`
	// WindowEndsAt is when the notification stops taking messages (unless
	// it is read first). Webhooks carry it; the list does not.
	WindowEndsAt string `json:"-"`
}

// NotificationPage is one page of a user's notifications, newest first.
type NotificationPage struct {
	Notifications []Notification `json:"notifications"`
	UnreadCount   int64          `json:"unread_count"`
	NextCursor    *string        `json:"next_cursor"`
}

// NotificationsReadState answers a mark-read: how many remain unread.
type NotificationsReadState struct {
	UnreadCount int64 `json:"unread_count"`
}

// DeadLetter is a job that failed every attempt, kept for the operator.
type DeadLetter struct {
	ID        string `json:"id"`
	Seq       uint64 `json:"seq"`
	Kind      string `json:"kind"`
	Ref       string `json:"ref"`
	UserID    string `json:"user_id,omitempty"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
	At        string `json:"at"`
}

// DeadLetterPage is one page of dead letters, newest first.
type DeadLetterPage struct {
	DeadLetters []DeadLetter `json:"dead_letters"`
	NextCursor  *string      `json:"next_cursor"`
}
