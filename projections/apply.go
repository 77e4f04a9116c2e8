package projections

import (
	"encoding/json"

	"parley/engine"
)

// Reasons an event is rejected. A rejected event changes no row but is
// recorded in skipped_events, so every node and every rebuild agrees.
const (
	skipMalformed      = "malformed"
	skipUnknownConv    = "unknown_conversation"
	skipExists         = "exists"
	skipNotParticipant = "not_participant"
	skipAlreadyMember  = "already_participant"
	skipDuplicate      = "duplicate_client_temp_id"
	skipUnknownMessage = "unknown_message"
	skipNotSender      = "not_sender"
	skipDeleted        = "deleted"
	skipNotForward     = "not_forward"
)

// Apply applies one event to the read models inside tx and returns "" when
// it was accepted, or the reason it was rejected. It is pure over (event,
// tx): no clock, no randomness, no I/O beyond tx.
func Apply(tx *Tx, ev engine.Event) (string, error) {
	switch ev.Type {
	case engine.ConversationCreated:
		var d engine.ConversationCreatedData
		if json.Unmarshal(ev.Data, &d) != nil || len(d.ParticipantIDs) == 0 {
			return skipMalformed, nil
		}
		return applyCreated(tx, ev, d)
	case engine.ParticipantAdded, engine.ParticipantRemoved:
		var d engine.ParticipantData
		if json.Unmarshal(ev.Data, &d) != nil || d.UserID == "" {
			return skipMalformed, nil
		}
		if ev.Type == engine.ParticipantAdded {
			return applyAdded(tx, ev, d)
		}
		return applyRemoved(tx, ev, d)
	case engine.MessageSent:
		var d engine.MessageSentData
		if json.Unmarshal(ev.Data, &d) != nil || d.ClientTempID == "" {
			return skipMalformed, nil
		}
		return applySent(tx, ev, d)
	case engine.MessageEdited:
		var d engine.MessageEditedData
		if json.Unmarshal(ev.Data, &d) != nil {
			return skipMalformed, nil
		}
		return applyEdited(tx, ev, d)
	case engine.MessageDeleted:
		var d engine.MessageDeletedData
		if json.Unmarshal(ev.Data, &d) != nil {
			return skipMalformed, nil
		}
		return applyDeleted(tx, ev, d)
	case engine.ConversationRead:
		var d engine.ConversationReadData
		if json.Unmarshal(ev.Data, &d) != nil {
			return skipMalformed, nil
		}
		return applyRead(tx, ev, d)
	}
	return skipMalformed, nil
}

func applyCreated(tx *Tx, ev engine.Event, d engine.ConversationCreatedData) (string, error) {
	var n int
	if _, err := tx.scan(`SELECT count(*) FROM conversations WHERE id = ? OR direct_key = ?`,
		[]any{ev.ConversationID, nullable(d.DirectKey)}, &n); err != nil || n > 0 {
		return skipExists, err
	}
	at := engine.FormatTime(ev.At)
	if _, err := tx.exec(`INSERT INTO conversations (id, kind, title, direct_key, created_by, created_at, created_seq,
		last_activity_seq, last_activity_at, last_event_seq, participant_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ev.ConversationID, d.Kind, d.Title, nullable(d.DirectKey), ev.ActorID, at, ev.Seq, ev.Seq, at, ev.Seq, len(d.ParticipantIDs)); err != nil {
		return "", err
	}
	for _, u := range d.ParticipantIDs {
		if err := insertParticipant(tx, ev, u, at); err != nil {
			return "", err
		}
	}
	return "", nil
}

func insertParticipant(tx *Tx, ev engine.Event, userID, at string) error {
	if _, err := tx.exec(`INSERT INTO participants (conversation_id, user_id, joined_seq, joined_at, last_read_seq, last_activity_seq)
		VALUES (?, ?, ?, ?, ?, (SELECT last_activity_seq FROM conversations WHERE id = ?))`,
		ev.ConversationID, userID, ev.Seq, at, ev.Seq, ev.ConversationID); err != nil {
		return err
	}
	_, err := tx.exec(`INSERT INTO unread_summary (user_id, unread_total) VALUES (?, 0) ON CONFLICT (user_id) DO NOTHING`, userID)
	return err
}

// isParticipant reports whether user is in the conversation.
func isParticipant(tx *Tx, conversationID, userID string) (bool, error) {
	var n int
	_, err := tx.scan(`SELECT count(*) FROM participants WHERE conversation_id = ? AND user_id = ?`, []any{conversationID, userID}, &n)
	return n > 0, err
}

// touch records that an accepted event changed the conversation.
func touch(tx *Tx, ev engine.Event) error {
	_, err := tx.exec(`UPDATE conversations SET last_event_seq = ? WHERE id = ?`, ev.Seq, ev.ConversationID)
	return err
}

func applyAdded(tx *Tx, ev engine.Event, d engine.ParticipantData) (string, error) {
	if ok, err := isParticipant(tx, ev.ConversationID, ev.ActorID); err != nil || !ok {
		return skipNotParticipant, err
	}
	if ok, err := isParticipant(tx, ev.ConversationID, d.UserID); err != nil || ok {
		return skipAlreadyMember, err
	}
	if err := insertParticipant(tx, ev, d.UserID, engine.FormatTime(ev.At)); err != nil {
		return "", err
	}
	if _, err := tx.exec(`UPDATE conversations SET participant_count = participant_count + 1 WHERE id = ?`, ev.ConversationID); err != nil {
		return "", err
	}
	return "", touch(tx, ev)
}

func applyRemoved(tx *Tx, ev engine.Event, d engine.ParticipantData) (string, error) {
	if ok, err := isParticipant(tx, ev.ConversationID, ev.ActorID); err != nil || !ok {
		return skipNotParticipant, err
	}
	var unread int64
	if found, err := tx.scan(`SELECT unread_count FROM participants WHERE conversation_id = ? AND user_id = ?`,
		[]any{ev.ConversationID, d.UserID}, &unread); err != nil || !found {
		return skipNotParticipant, err
	}
	if _, err := tx.exec(`UPDATE unread_summary SET unread_total = unread_total - ? WHERE user_id = ?`, unread, d.UserID); err != nil {
		return "", err
	}
	if _, err := tx.exec(`DELETE FROM participants WHERE conversation_id = ? AND user_id = ?`, ev.ConversationID, d.UserID); err != nil {
		return "", err
	}
	if _, err := tx.exec(`UPDATE conversations SET participant_count = participant_count - 1 WHERE id = ?`, ev.ConversationID); err != nil {
		return "", err
	}
	return "", touch(tx, ev)
}

func applySent(tx *Tx, ev engine.Event, d engine.MessageSentData) (string, error) {
	if ok, err := isParticipant(tx, ev.ConversationID, ev.ActorID); err != nil || !ok {
		return skipNotParticipant, err
	}
	at := engine.FormatTime(ev.At)
	n, err := tx.exec(`INSERT INTO messages (seq, id, conversation_id, sender_id, body, client_temp_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		ev.Seq, ev.ID.String(), ev.ConversationID, ev.ActorID, d.Body, d.ClientTempID, at)
	if err != nil || n == 0 {
		return skipDuplicate, err
	}
	if _, err := tx.exec(`UPDATE conversations SET last_message_seq = ?, last_activity_seq = ?, last_activity_at = ?,
		last_event_seq = ?, message_count = message_count + 1 WHERE id = ?`, ev.Seq, ev.Seq, at, ev.Seq, ev.ConversationID); err != nil {
		return "", err
	}
	if _, err := tx.exec(`UPDATE unread_summary SET unread_total = unread_total + 1
		WHERE user_id IN (SELECT user_id FROM participants WHERE conversation_id = ? AND user_id <> ?)`, ev.ConversationID, ev.ActorID); err != nil {
		return "", err
	}
	_, err = tx.exec(`UPDATE participants SET last_activity_seq = ?, unread_count = unread_count + (user_id <> ?)
		WHERE conversation_id = ?`, ev.Seq, ev.ActorID, ev.ConversationID)
	return "", err
}

// ownMessage loads a live message of the actor's for edit and delete.
func ownMessage(tx *Tx, ev engine.Event, messageID string) (seq uint64, reason string, err error) {
	var sender string
	var deleted *string
	found, err := tx.scan(`SELECT seq, sender_id, deleted_at FROM messages WHERE id = ? AND conversation_id = ?`,
		[]any{messageID, ev.ConversationID}, &seq, &sender, &deleted)
	switch {
	case err != nil:
		return 0, "", err
	case !found:
		return 0, skipUnknownMessage, nil
	case sender != ev.ActorID:
		return 0, skipNotSender, nil
	case deleted != nil:
		return 0, skipDeleted, nil
	}
	if ok, err := isParticipant(tx, ev.ConversationID, ev.ActorID); err != nil || !ok {
		return 0, skipNotParticipant, err
	}
	return seq, "", nil
}

func applyEdited(tx *Tx, ev engine.Event, d engine.MessageEditedData) (string, error) {
	seq, reason, err := ownMessage(tx, ev, d.MessageID)
	if err != nil || reason != "" {
		return reason, err
	}
	if _, err := tx.exec(`UPDATE messages SET body = ?, edited_at = ? WHERE seq = ?`, d.Body, engine.FormatTime(ev.At), seq); err != nil {
		return "", err
	}
	return "", touch(tx, ev)
}

func applyDeleted(tx *Tx, ev engine.Event, d engine.MessageDeletedData) (string, error) {
	seq, reason, err := ownMessage(tx, ev, d.MessageID)
	if err != nil || reason != "" {
		return reason, err
	}
	if _, err := tx.exec(`UPDATE messages SET body = '', deleted_at = ? WHERE seq = ?`, engine.FormatTime(ev.At), seq); err != nil {
		return "", err
	}
	// The message no longer counts as unread for those who had not read it.
	if _, err := tx.exec(`UPDATE unread_summary SET unread_total = unread_total - 1 WHERE user_id IN
		(SELECT user_id FROM participants WHERE conversation_id = ? AND user_id <> ? AND last_read_seq < ?)`,
		ev.ConversationID, ev.ActorID, seq); err != nil {
		return "", err
	}
	if _, err := tx.exec(`UPDATE participants SET unread_count = unread_count - 1
		WHERE conversation_id = ? AND user_id <> ? AND last_read_seq < ?`, ev.ConversationID, ev.ActorID, seq); err != nil {
		return "", err
	}
	return "", touch(tx, ev)
}

func applyRead(tx *Tx, ev engine.Event, d engine.ConversationReadData) (string, error) {
	var marker uint64
	if found, err := tx.scan(`SELECT last_read_seq FROM participants WHERE conversation_id = ? AND user_id = ?`,
		[]any{ev.ConversationID, ev.ActorID}, &marker); err != nil || !found {
		return skipNotParticipant, err
	}
	var seq uint64
	if found, err := tx.scan(`SELECT seq FROM messages WHERE id = ? AND conversation_id = ?`,
		[]any{d.MessageID, ev.ConversationID}, &seq); err != nil || !found {
		return skipUnknownMessage, err
	}
	if seq <= marker {
		return skipNotForward, nil
	}
	at := engine.FormatTime(ev.At)
	n, err := tx.exec(`INSERT INTO message_reads (message_id, user_id, conversation_id, read_seq, read_at)
		SELECT id, ?, conversation_id, ?, ? FROM messages
		WHERE conversation_id = ? AND seq > ? AND seq <= ? AND sender_id <> ? AND deleted_at IS NULL`,
		ev.ActorID, ev.Seq, at, ev.ConversationID, marker, seq, ev.ActorID)
	if err != nil {
		return "", err
	}
	if _, err := tx.exec(`UPDATE participants SET last_read_seq = ?, last_read_message_id = ?, last_read_at = ?,
		unread_count = unread_count - ? WHERE conversation_id = ? AND user_id = ?`,
		seq, d.MessageID, at, n, ev.ConversationID, ev.ActorID); err != nil {
		return "", err
	}
	if _, err := tx.exec(`UPDATE unread_summary SET unread_total = unread_total - ? WHERE user_id = ?`, n, ev.ActorID); err != nil {
		return "", err
	}
	return "", touch(tx, ev)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
