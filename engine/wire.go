package engine

import json "github.com/goccy/go-json"

// WireEvent is an event as clients receive it, in delta answers and over
// realtime transports: the envelope plus the stream sequence, with a payload
// ready to merge into a client's state.
type WireEvent struct {
	Seq            uint64    `json:"seq"`
	Type           EventType `json:"type"`
	ID             string    `json:"id"`
	ConversationID string    `json:"conversation_id"`
	ActorID        string    `json:"actor_id"`
	At             string    `json:"at"`
	Data           any       `json:"data"`
}

// MessageChange is the payload of message.edited and message.deleted on the wire.
type MessageChange struct {
	MessageID string   `json:"message_id"`
	Body      *string  `json:"body,omitempty"`
	Mentions  []string `json:"mentions,omitempty"`
	EditedAt  *string  `json:"edited_at,omitempty"`
	DeletedAt *string  `json:"deleted_at,omitempty"`
}

// ReadChange is the payload of conversation.read on the wire.
type ReadChange struct {
	UserID    string `json:"user_id"`
	MessageID string `json:"message_id"`
}

// ReactionChange is the payload of message.reacted on the wire: a reaction
// put (Reacted) or taken back. Each one delivered is a change, so a client
// adds or subtracts one.
type ReactionChange struct {
	MessageID string `json:"message_id"`
	UserID    string `json:"user_id"`
	Emoji     string `json:"emoji"`
	Reacted   bool   `json:"reacted"`
}

// Wire renders ev for clients. A payload that does not decode is passed on
// as stored.
func Wire(ev Event) WireEvent {
	at := FormatTime(ev.At)
	w := WireEvent{
		Seq: ev.Seq, Type: ev.Type, ID: ev.ID.String(), ConversationID: ev.ConversationID,
		ActorID: ev.ActorID, At: at, Data: ev.Data,
	}
	switch ev.Type {
	case MessageSent:
		var d MessageSentData
		if json.Unmarshal(ev.Data, &d) == nil {
			m := Message{
				ID: w.ID, ConversationID: ev.ConversationID, SenderID: ev.ActorID, Body: d.Body,
				ClientTempID: d.ClientTempID, Seq: ev.Seq, CreatedAt: at, Mentions: d.Mentions, Attachments: d.Attachments,
			}
			if d.ReplyTo != "" {
				m.ReplyTo = &d.ReplyTo
			}
			w.Data = m
		}
	case MessageEdited:
		var d MessageEditedData
		if json.Unmarshal(ev.Data, &d) == nil {
			w.Data = MessageChange{MessageID: d.MessageID, Body: &d.Body, Mentions: d.Mentions, EditedAt: &at}
		}
	case MessageDeleted:
		var d MessageDeletedData
		if json.Unmarshal(ev.Data, &d) == nil {
			w.Data = MessageChange{MessageID: d.MessageID, DeletedAt: &at}
		}
	case MessageReacted:
		var d MessageReactedData
		if json.Unmarshal(ev.Data, &d) == nil {
			w.Data = ReactionChange{MessageID: d.MessageID, UserID: ev.ActorID, Emoji: d.Emoji, Reacted: d.Reacted}
		}
	case ConversationRead:
		var d ConversationReadData
		if json.Unmarshal(ev.Data, &d) == nil {
			w.Data = ReadChange{UserID: ev.ActorID, MessageID: d.MessageID}
		}
	}
	return w
}
