package projections

import (
	json "github.com/goccy/go-json"

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
	skipTooMany        = "too_many_participants"
	skipStaleReaction  = "stale_reaction"
	skipTooManyKeys    = "too_many_reactions"
	skipStaleSettings  = "stale_settings"
	skipTooManyPins    = "too_many_pins"
)

// Apply applies one event to the read models inside tx and returns "" when
// it was accepted, or the reason it was rejected. It is pure over (event,
// tx): no clock, no randomness, no I/O beyond tx.
func Apply(tx *Tx, ev engine.Event) (string, error) {
	switch ev.Type {
	case engine.ConversationCreated:
		var d engine.ConversationCreatedData
		if json.Unmarshal(ev.Data, &d) != nil || !validMembers(d.ParticipantIDs) {
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
	case engine.ParticipantSettings:
		var d engine.ParticipantSettingsData
		if json.Unmarshal(ev.Data, &d) != nil || d.Version == 0 {
			return skipMalformed, nil
		}
		return applySettings(tx, ev, d)
	case engine.MessageReacted:
		var d engine.MessageReactedData
		if json.Unmarshal(ev.Data, &d) != nil || !engine.ValidReaction(d.Emoji) || d.Version == 0 {
			return skipMalformed, nil
		}
		return applyReacted(tx, ev, d)
	}
	return skipMalformed, nil
}

// validMembers reports whether a new conversation's member list is usable:
// not empty, no empty id, no id twice. The command never writes another
// list; a foreign or hand-written event with one is skipped, not fatal.
func validMembers(ids []string) bool {
	if len(ids) == 0 {
		return false
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id == "" || seen[id] {
			return false
		}
		seen[id] = true
	}
	return true
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
	c := &convState{exists: true, lastActivitySeq: ev.Seq, lastActivityAt: at, lastEventSeq: ev.Seq, members: map[string]*memberState{}}
	tx.st.putConv(ev.ConversationID, c)
	for _, u := range d.ParticipantIDs {
		if err := insertParticipant(tx, ev, c, u, at); err != nil {
			return "", err
		}
	}
	return "", nil
}

func insertParticipant(tx *Tx, ev engine.Event, c *convState, userID, at string) error {
	// A new member has read everything sent before they joined.
	if _, err := tx.exec(`INSERT INTO participants (conversation_id, user_id, joined_seq, joined_at, last_read_seq, read_ord)
		VALUES (?, ?, ?, ?, ?, ?)`, ev.ConversationID, userID, ev.Seq, at, ev.Seq, c.messageCount); err != nil {
		return err
	}
	c.members[userID] = &memberState{lastReadSeq: ev.Seq, readOrd: c.messageCount}
	tx.st.members++
	return nil
}

// member returns the conversation and the actor's membership, or a reason.
func member(tx *Tx, conversationID, userID string) (*convState, *memberState, string, error) {
	c, err := tx.conv(conversationID)
	if err != nil {
		return nil, nil, "", err
	}
	if !c.exists {
		return nil, nil, skipUnknownConv, nil
	}
	m := c.members[userID]
	if m == nil {
		return nil, nil, skipNotParticipant, nil
	}
	return c, m, "", nil
}

func applyAdded(tx *Tx, ev engine.Event, d engine.ParticipantData) (string, error) {
	c, _, reason, err := member(tx, ev.ConversationID, ev.ActorID)
	if err != nil || reason != "" {
		return reason, err
	}
	if c.members[d.UserID] != nil {
		return skipAlreadyMember, nil
	}
	if len(c.members) >= engine.DefaultLimits().MaxParticipants {
		return skipTooMany, nil // concurrent adds that each passed the command's check
	}
	if err := insertParticipant(tx, ev, c, d.UserID, engine.FormatTime(ev.At)); err != nil {
		return "", err
	}
	c.partDelta++
	c.touch(ev.Seq)
	return "", nil
}

func applyRemoved(tx *Tx, ev engine.Event, d engine.ParticipantData) (string, error) {
	c, _, reason, err := member(tx, ev.ConversationID, ev.ActorID)
	if err != nil || reason != "" {
		return reason, err
	}
	if c.members[d.UserID] == nil {
		return skipNotParticipant, nil
	}
	if _, err := tx.exec(`DELETE FROM participants WHERE conversation_id = ? AND user_id = ?`, ev.ConversationID, d.UserID); err != nil {
		return "", err
	}
	delete(c.members, d.UserID)
	tx.removed = append(tx.removed, memberKey(ev.ConversationID, d.UserID))
	c.partDelta--
	c.touch(ev.Seq)
	return "", nil
}

func applySent(tx *Tx, ev engine.Event, d engine.MessageSentData) (string, error) {
	c, m, reason, err := member(tx, ev.ConversationID, ev.ActorID)
	if err != nil || reason != "" {
		return reason, err
	}
	at := engine.FormatTime(ev.At)
	// A reply keeps its target only when that is a message of this
	// conversation (the command checked; a foreign event may not have).
	var replyTo, replySeq any
	var parentSeq uint64
	if d.ReplyTo != "" {
		found, err := tx.scan(`SELECT seq FROM messages WHERE id = ? AND conversation_id = ?`, []any{d.ReplyTo, ev.ConversationID}, &parentSeq)
		if err != nil {
			return "", err
		}
		if found {
			replyTo, replySeq = d.ReplyTo, parentSeq
		}
	}
	mentioned := mentionedMembers(c, ev.ActorID, d.Mentions)
	n, err := tx.exec(`INSERT INTO messages (seq, id, conversation_id, sender_id, body, client_temp_id, created_at, ord, reply_to, reply_to_seq, mentions)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		ev.Seq, ev.ID.String(), ev.ConversationID, ev.ActorID, d.Body, d.ClientTempID, at, c.messageCount+1, replyTo, replySeq, mentionsJSON(mentioned))
	if err != nil || n == 0 {
		return skipDuplicate, err
	}
	tx.sentKeys = append(tx.sentKeys, sendKeyHash(ev.ConversationID, ev.ActorID, d.ClientTempID))
	if err := insertMentions(tx, ev.ConversationID, ev.Seq, mentioned); err != nil {
		return "", err
	}
	if err := insertAttachments(tx, ev, d.Attachments); err != nil {
		return "", err
	}
	if replySeq != nil {
		if _, err := tx.exec(`UPDATE messages SET reply_count = reply_count + 1, last_reply_at = ? WHERE seq = ?`, at, parentSeq); err != nil {
			return "", err
		}
	}
	// Every other member's unread count grows by itself: it is the
	// ordinals after their anchor. Only the sender's anchor changes.
	c.messageCount++
	c.lastMessageSeq, c.lastMessageID, c.lastActivitySeq, c.lastActivityAt = ev.Seq, ev.ID.String(), ev.Seq, at
	c.touch(ev.Seq)
	m.ownAfter++
	tx.st.changed(c, ev.ActorID, m)
	return "", nil
}

// ownMessage loads a live message of the actor's for edit and delete: its
// sequence and ordinal.
func ownMessage(tx *Tx, ev engine.Event, messageID string) (*convState, uint64, uint64, string, error) {
	var seq, ord uint64
	var sender string
	var deleted *string
	found, err := tx.scan(`SELECT seq, ord, sender_id, deleted_at FROM messages WHERE id = ? AND conversation_id = ?`,
		[]any{messageID, ev.ConversationID}, &seq, &ord, &sender, &deleted)
	switch {
	case err != nil:
		return nil, 0, 0, "", err
	case !found:
		return nil, 0, 0, skipUnknownMessage, nil
	case sender != ev.ActorID:
		return nil, 0, 0, skipNotSender, nil
	case deleted != nil:
		return nil, 0, 0, skipDeleted, nil
	}
	c, _, reason, err := member(tx, ev.ConversationID, ev.ActorID)
	return c, seq, ord, reason, err
}

func applyEdited(tx *Tx, ev engine.Event, d engine.MessageEditedData) (string, error) {
	c, seq, _, reason, err := ownMessage(tx, ev, d.MessageID)
	if err != nil || reason != "" {
		return reason, err
	}
	mentioned := mentionedMembers(c, ev.ActorID, d.Mentions)
	if _, err := tx.exec(`UPDATE messages SET body = ?, edited_at = ?, mentions = ? WHERE seq = ?`,
		d.Body, engine.FormatTime(ev.At), mentionsJSON(mentioned), seq); err != nil {
		return "", err
	}
	if _, err := tx.exec(`DELETE FROM mentions WHERE message_seq = ?`, seq); err != nil {
		return "", err
	}
	if err := insertMentions(tx, ev.ConversationID, seq, mentioned); err != nil {
		return "", err
	}
	c.touch(ev.Seq)
	return "", nil
}

func applyDeleted(tx *Tx, ev engine.Event, d engine.MessageDeletedData) (string, error) {
	c, seq, ord, reason, err := ownMessage(tx, ev, d.MessageID)
	if err != nil || reason != "" {
		return reason, err
	}
	// Unread counts leave out deleted messages when they are read, so no
	// member's row changes here; the conversation remembers how far its
	// deletions reach, so counts of members past them need not look.
	c.maxDeletedOrd = max(c.maxDeletedOrd, ord)
	if _, err := tx.exec(`UPDATE messages SET body = '', deleted_at = ?, deleted_seq = ?, mentions = NULL WHERE seq = ?`,
		engine.FormatTime(ev.At), ev.Seq, seq); err != nil {
		return "", err
	}
	if _, err := tx.exec(`DELETE FROM mentions WHERE message_seq = ?`, seq); err != nil {
		return "", err
	}
	if _, err := tx.exec(`UPDATE attachments SET deleted = 1 WHERE message_seq = ?`, seq); err != nil {
		return "", err
	}
	if _, err := tx.exec(`UPDATE messages SET attachments = NULL WHERE seq = ? AND attachments IS NOT NULL`, seq); err != nil {
		return "", err
	}
	// A deleted reply no longer counts among its target's replies.
	if _, err := tx.exec(`UPDATE messages SET reply_count = reply_count - 1
		WHERE seq = (SELECT reply_to_seq FROM messages WHERE seq = ?)`, seq); err != nil {
		return "", err
	}
	c.touch(ev.Seq)
	return "", nil
}

func applyRead(tx *Tx, ev engine.Event, d engine.ConversationReadData) (string, error) {
	c, m, reason, err := member(tx, ev.ConversationID, ev.ActorID)
	if err != nil || reason != "" {
		return reason, err
	}
	// A marker mostly moves to the newest message, which the projector
	// knows without a read.
	seq, ord := c.lastMessageSeq, c.messageCount
	if d.MessageID == "" || d.MessageID != c.lastMessageID {
		if found, err := tx.scan(`SELECT seq, ord FROM messages WHERE id = ? AND conversation_id = ?`,
			[]any{d.MessageID, ev.ConversationID}, &seq, &ord); err != nil || !found {
			return skipUnknownMessage, err
		}
	}
	if seq <= m.lastReadSeq {
		return skipNotForward, nil
	}
	// The reader's own messages after the new marker: none when it moves to
	// the newest message, as it mostly does.
	var own uint64
	if ord < c.messageCount {
		if _, err := tx.scan(`SELECT count(*) FROM messages WHERE conversation_id = ? AND seq > ? AND sender_id = ?`,
			[]any{ev.ConversationID, seq, ev.ActorID}, &own); err != nil {
			return "", err
		}
	}
	at := engine.FormatTime(ev.At)
	if _, err := tx.exec(`INSERT INTO message_reads (read_seq, conversation_id, user_id, from_seq, to_seq, read_at)
		VALUES (?, ?, ?, ?, ?, ?)`, ev.Seq, ev.ConversationID, ev.ActorID, m.lastReadSeq, seq, at); err != nil {
		return "", err
	}
	msgID := d.MessageID
	m.lastReadSeq, m.lastReadID, m.lastReadAt, m.readOrd, m.ownAfter = seq, &msgID, &at, ord, own
	tx.st.changed(c, ev.ActorID, m)
	c.touch(ev.Seq)
	return "", nil
}

// applyReacted puts or takes back a reaction: two rows, the user's and the
// key's count, whatever the conversation's size. A change that is not the
// next of the user's changes of this reaction, or that changes nothing, is
// skipped, so racing requests change it once.
func applyReacted(tx *Tx, ev engine.Event, d engine.MessageReactedData) (string, error) {
	c, _, reason, err := member(tx, ev.ConversationID, ev.ActorID)
	if err != nil || reason != "" {
		return reason, err
	}
	var seq uint64
	var deleted *string
	found, err := tx.scan(`SELECT seq, deleted_at FROM messages WHERE id = ? AND conversation_id = ?`,
		[]any{d.MessageID, ev.ConversationID}, &seq, &deleted)
	switch {
	case err != nil:
		return "", err
	case !found:
		return skipUnknownMessage, nil
	case deleted != nil:
		return skipDeleted, nil
	}
	var active bool
	var version uint64
	if _, err := tx.scan(`SELECT active, version FROM message_reactions WHERE message_seq = ? AND user_id = ? AND emoji = ?`,
		[]any{seq, ev.ActorID, d.Emoji}, &active, &version); err != nil {
		return "", err
	}
	if d.Version != version+1 || d.Reacted == active {
		return skipStaleReaction, nil
	}
	if d.Reacted {
		var keys int
		var held bool
		if _, err := tx.scan(`SELECT count(*), coalesce(max(emoji = ?), 0) FROM reaction_counts WHERE message_seq = ?`,
			[]any{d.Emoji, seq}, &keys, &held); err != nil {
			return "", err
		}
		if !held && keys >= engine.MaxReactionsPerMessage {
			return skipTooManyKeys, nil
		}
	}
	if _, err := tx.exec(`INSERT INTO message_reactions (message_seq, user_id, emoji, active, version, changed_seq) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (message_seq, user_id, emoji) DO UPDATE SET active = excluded.active, version = excluded.version, changed_seq = excluded.changed_seq`,
		seq, ev.ActorID, d.Emoji, d.Reacted, d.Version, ev.Seq); err != nil {
		return "", err
	}
	if d.Reacted {
		_, err = tx.exec(`INSERT INTO reaction_counts (message_seq, emoji, count, first_seq) VALUES (?, ?, 1, ?)
			ON CONFLICT (message_seq, emoji) DO UPDATE SET count = count + 1`, seq, d.Emoji, ev.Seq)
	} else {
		_, err = tx.exec(`UPDATE reaction_counts SET count = count - 1 WHERE message_seq = ? AND emoji = ?`, seq, d.Emoji)
		if err == nil {
			_, err = tx.exec(`DELETE FROM reaction_counts WHERE message_seq = ? AND emoji = ? AND count <= 0`, seq, d.Emoji)
		}
	}
	if err != nil {
		return "", err
	}
	c.touch(ev.Seq)
	return "", nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
