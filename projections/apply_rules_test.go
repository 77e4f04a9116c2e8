package projections

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"parley/engine"
)

// Fixed ids, so that expected rows can be written out. Message ids are the
// ids of their message.sent events.
const (
	convG  = "01KC00000000000000000000G1"
	convH  = "01KC00000000000000000000H1"
	convD  = "01KC00000000000000000000D1"
	convD2 = "01KC00000000000000000000D2"
	convD3 = "01KC00000000000000000000D3"
	convX  = "01KC00000000000000000000X9" // never created

	msg1 = "01KM00000000000000000000M1"
	msg2 = "01KM00000000000000000000M2"
	msg3 = "01KM00000000000000000000M3"
	msg4 = "01KM00000000000000000000M4"
	msg9 = "01KM00000000000000000000M9" // never sent
)

// Event n (its stream sequence) happens n seconds after applyBase, so
// seq 6's time is "2026-03-01T10:00:06.000000Z" in the read models.
var applyBase = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// notAnObject is a payload that decodes into none of the *Data structs.
const notAnObject = "not an object"

// applyStep is one event of a case, applied at seq = its index + 1, the
// reason Apply must give for it ("" when accepted), and queries whose rows
// must read as given once it (and everything before it) is applied.
type applyStep struct {
	typ   engine.EventType
	conv  string
	actor string
	id    string // the event's (a message's) id; empty for a fresh one
	data  any
	want  string
	check []rowCheck
}

// rowCheck is a query and its expected rows, each rendered as its columns
// joined by "," with NULL for a null.
type rowCheck struct {
	query string
	args  []any
	want  []string
}

func (s applyStep) event(t *testing.T, seq uint64) engine.Event {
	t.Helper()
	ev, err := engine.NewEvent(s.typ, s.conv, s.actor, applyBase.Add(time.Duration(seq)*time.Second), s.data)
	if err != nil {
		t.Fatal(err)
	}
	if s.id != "" {
		ev.ID = ulid.MustParseStrict(s.id)
	}
	ev.Seq = seq
	return ev
}

// Queries the cases check.
const (
	qConv = `SELECT kind, title, direct_key, created_by, created_at, created_seq, last_message_seq,
		last_activity_seq, last_activity_at, last_event_seq, participant_count, message_count FROM conversations WHERE id = ?`
	qConvCounters = `SELECT last_message_seq, last_activity_seq, last_event_seq, participant_count, message_count
		FROM conversations WHERE id = ?`
	// A member's unread count comes from the unread_summary view, their
	// list position from the conversation's activity.
	qMembers = `SELECT p.user_id, p.joined_seq, p.last_read_seq, u.unread_count, c.last_activity_seq
		FROM participants p JOIN unread_summary u USING (conversation_id, user_id) JOIN conversations c ON c.id = p.conversation_id
		WHERE p.conversation_id = ? ORDER BY p.user_id`
	qMarkers = `SELECT p.user_id, p.last_read_seq, p.last_read_message_id, p.last_read_at, u.unread_count
		FROM participants p JOIN unread_summary u USING (conversation_id, user_id) WHERE p.conversation_id = ? ORDER BY p.user_id`
	qTotals   = `SELECT user_id, sum(unread_count) FROM unread_summary GROUP BY user_id ORDER BY user_id`
	qMessages = `SELECT seq, id, conversation_id, sender_id, body, client_temp_id, created_at, edited_at, deleted_at
		FROM messages ORDER BY seq`
	// One receipt per message a read's range holds: the reader's own and
	// those deleted before the read left out.
	qReads = `SELECT m.id, r.user_id, r.conversation_id, r.read_seq, r.read_at FROM message_reads r
		JOIN messages m ON m.conversation_id = r.conversation_id AND m.seq > r.from_seq AND m.seq <= r.to_seq
		WHERE m.sender_id <> r.user_id AND (m.deleted_seq IS NULL OR r.read_seq < m.deleted_seq) ORDER BY m.id, r.user_id`
)

func created(conv, actor, title string, ids ...string) applyStep {
	return applyStep{typ: engine.ConversationCreated, conv: conv, actor: actor,
		data: engine.ConversationCreatedData{Kind: engine.KindGroup, Title: title, ParticipantIDs: ids}}
}

func createdDirect(conv, actor, a, b string) applyStep {
	return applyStep{typ: engine.ConversationCreated, conv: conv, actor: actor,
		data: engine.ConversationCreatedData{Kind: engine.KindDirect, ParticipantIDs: []string{a, b}, DirectKey: a + "|" + b}}
}

func sent(conv, actor, id, body, tempID string) applyStep {
	return applyStep{typ: engine.MessageSent, conv: conv, actor: actor, id: id,
		data: engine.MessageSentData{Body: body, ClientTempID: tempID}}
}

func added(conv, actor, user string) applyStep {
	return applyStep{typ: engine.ParticipantAdded, conv: conv, actor: actor, data: engine.ParticipantData{UserID: user}}
}

func removed(conv, actor, user string) applyStep {
	return applyStep{typ: engine.ParticipantRemoved, conv: conv, actor: actor, data: engine.ParticipantData{UserID: user}}
}

func edited(conv, actor, msg, body string) applyStep {
	return applyStep{typ: engine.MessageEdited, conv: conv, actor: actor,
		data: engine.MessageEditedData{MessageID: msg, Body: body}}
}

func deleted(conv, actor, msg string) applyStep {
	return applyStep{typ: engine.MessageDeleted, conv: conv, actor: actor, data: engine.MessageDeletedData{MessageID: msg}}
}

func read(conv, actor, msg string) applyStep {
	return applyStep{typ: engine.ConversationRead, conv: conv, actor: actor, data: engine.ConversationReadData{MessageID: msg}}
}

func raw(typ engine.EventType, conv, actor string, data any) applyStep {
	return applyStep{typ: typ, conv: conv, actor: actor, data: data}
}

// skip sets the reason Apply must give; then sets the checks after it.
func (s applyStep) skip(reason string) applyStep { s.want = reason; return s }

func (s applyStep) then(checks ...rowCheck) applyStep { s.check = checks; return s }

func rowsOf(query string, want ...string) rowCheck { return rowCheck{query: query, want: want} }

func rowsIn(query, conv string, want ...string) rowCheck {
	return rowCheck{query: query, args: []any{conv}, want: want}
}

type applyCase struct {
	name  string
	steps []applyStep
}

// applyCases are the rules of Apply, one case per event type and its
// reasons. Every reason apply.go defines appears in some step's want.
// reacted is a message.reacted step.
func reacted(conv, actor, msg, emoji string, on bool, version uint64) applyStep {
	return raw(engine.MessageReacted, conv, actor, engine.MessageReactedData{MessageID: msg, Emoji: emoji, Reacted: on, Version: version})
}

// richCases are the rules of reactions and settings: a change applies only
// as the next version and only when it changes something; a message holds
// at most engine.MaxReactionsPerMessage keys and a user engine.MaxPins
// pins, whatever the commands let through.
func richCases() []applyCase {
	const qReactions = `SELECT r.user_id, r.emoji, r.active, r.version, c.count FROM message_reactions r
		LEFT JOIN reaction_counts c ON c.message_seq = r.message_seq AND c.emoji = r.emoji ORDER BY r.user_id, r.emoji`
	reactions := []applyStep{
		created(convG, "alice", "", "alice", "bob"), // seq 1
		sent(convG, "alice", msg1, "hi", "t1"),      // seq 2
		reacted(convG, "bob", msg1, "👍", true, 1).then(rowsOf(qReactions, "bob,👍,1,1,1")),
		reacted(convG, "bob", msg1, "👍", true, 1).skip(skipStaleReaction), // the same change again
		reacted(convG, "bob", msg1, "👍", true, 2).skip(skipStaleReaction), // changes nothing
		reacted(convG, "bob", msg1, "👍", false, 2).then(rowsOf(qReactions, "bob,👍,0,2,NULL")),
		reacted(convG, "bob", msg9, "👍", true, 1).skip(skipUnknownMessage),
		reacted(convG, "bob", msg1, "a b", true, 3).skip(skipMalformed),
		reacted(convG, "carol", msg1, "👍", true, 1).skip(skipNotParticipant),
	}
	for i := range engine.MaxReactionsPerMessage {
		reactions = append(reactions, reacted(convG, "alice", msg1, fmt.Sprint("k", i), true, 1))
	}
	reactions = append(reactions, reacted(convG, "bob", msg1, "k-extra", true, 1).skip(skipTooManyKeys),
		reacted(convG, "bob", msg1, "k3", true, 1).then(
			rowsOf(`SELECT count(*), sum(count) FROM reaction_counts`, fmt.Sprintf("%d,%d", engine.MaxReactionsPerMessage, engine.MaxReactionsPerMessage+1))))
	yes := true
	var pins []applyStep
	for i := range engine.MaxPins + 1 {
		conv := fmt.Sprintf("01KC00000000000000000000P%d", i%10)
		if i >= 10 {
			conv = fmt.Sprintf("01KC00000000000000000000Q%d", i%10)
		}
		pins = append(pins, created(conv, "alice", "", "alice", "bob"))
		step := raw(engine.ParticipantSettings, conv, "alice", engine.ParticipantSettingsData{Pinned: &yes, Version: 1})
		if i == engine.MaxPins {
			step = step.skip(skipTooManyPins)
		}
		pins = append(pins, step)
	}
	pins = append(pins,
		raw(engine.ParticipantSettings, convD, "alice", engine.ParticipantSettingsData{Muted: &yes, Version: 1}).skip(skipUnknownConv),
		raw(engine.ParticipantSettings, "01KC00000000000000000000P0", "alice", engine.ParticipantSettingsData{Muted: &yes, Version: 3}).skip(skipStaleSettings),
		raw(engine.ParticipantSettings, "01KC00000000000000000000P0", "alice", engine.ParticipantSettingsData{Muted: &yes, Version: 2}).then(
			rowsOf(`SELECT count(*), sum(muted), max(settings_version) FROM participants WHERE user_id = 'alice' AND pinned_seq > 0`,
				fmt.Sprintf("%d,1,2", engine.MaxPins))))
	return []applyCase{{"message.reacted", reactions}, {"participant.settings", pins}}
}

func applyCases() []applyCase {
	thousand := []string{"alice"}
	for i := 1; i < 1000; i++ {
		thousand = append(thousand, fmt.Sprintf("u%03d", i))
	}
	return append(richCases(), []applyCase{
		{"conversation.created group", []applyStep{
			created(convG, "alice", "team", "alice", "bob", "carol").then( // seq 1
				rowsIn(qConv, convG,
					"group,team,NULL,alice,2026-03-01T10:00:01.000000Z,1,0,1,2026-03-01T10:00:01.000000Z,1,3,0"),
				rowsIn(`SELECT p.user_id, p.joined_seq, p.joined_at, p.last_read_seq, p.last_read_message_id, p.last_read_at,
					u.unread_count, c.last_activity_seq FROM participants p JOIN unread_summary u USING (conversation_id, user_id)
					JOIN conversations c ON c.id = p.conversation_id WHERE p.conversation_id = ? ORDER BY p.user_id`, convG,
					"alice,1,2026-03-01T10:00:01.000000Z,1,NULL,NULL,0,1",
					"bob,1,2026-03-01T10:00:01.000000Z,1,NULL,NULL,0,1",
					"carol,1,2026-03-01T10:00:01.000000Z,1,NULL,NULL,0,1"),
				rowsOf(qTotals, "alice,0", "bob,0", "carol,0"),
			),
		}},
		{"conversation.created direct pair, existing id or key", []applyStep{
			createdDirect(convD, "alice", "alice", "bob"),                    // seq 1
			createdDirect(convD2, "bob", "alice", "bob").skip("exists"),      // seq 2: the pair's key is taken
			created(convD, "carol", "other", "carol", "dave").skip("exists"), // seq 3: the id is taken
			createdDirect(convD3, "alice", "alice", "carol").then( // seq 4: another pair
				rowsOf(`SELECT id, kind, title, direct_key, created_by, created_seq, participant_count FROM conversations ORDER BY id`,
					convD+",direct,,alice|bob,alice,1,2",
					convD3+",direct,,alice|carol,alice,4,2"),
				rowsOf(`SELECT conversation_id, user_id, joined_seq FROM participants ORDER BY conversation_id, user_id`,
					convD+",alice,1", convD+",bob,1", convD3+",alice,4", convD3+",carol,4"),
				rowsOf(qTotals, "alice,0", "bob,0", "carol,0"),
			),
		}},
		{"conversation.created malformed", []applyStep{
			created(convG, "alice", "nobody").skip("malformed"),                            // seq 1: no participants
			raw(engine.ConversationCreated, convG, "alice", notAnObject).skip("malformed"), // seq 2
			created(convG, "alice", "", "alice", "bob", "alice").skip("malformed"),         // seq 3: a repeated member
			created(convG, "alice", "", "alice", "").skip("malformed"),                     // seq 4: an empty id
			created(convG, "alice", "", "alice", "bob").then( // seq 5
				rowsOf(`SELECT id, created_seq, participant_count FROM conversations`, convG+",5,2"),
			),
		}},
		{"participant.added", []applyStep{
			created(convG, "alice", "", "alice", "bob"), // seq 1
			sent(convG, "alice", msg1, "before", "t1"),  // seq 2
			added(convG, "bob", "carol").then( // seq 3: any participant may add
				rowsIn(qMembers, convG, "alice,1,1,0,2", "bob,1,1,1,2", "carol,3,3,0,2"),
				rowsIn(qConvCounters, convG, "2,2,3,3,1"),
			),
			added(convG, "alice", "bob").skip("already_participant"),                    // seq 4
			added(convG, "dave", "erin").skip("not_participant"),                        // seq 5: the actor is not in it
			added(convX, "alice", "dave").skip("unknown_conversation"),                  // seq 6
			added(convG, "alice", "").skip("malformed"),                                 // seq 7
			raw(engine.ParticipantAdded, convG, "alice", notAnObject).skip("malformed"), // seq 8
			sent(convG, "bob", msg2, "after", "t2").then( // seq 9: carol's first unread
				rowsIn(qMembers, convG, "alice,1,1,1,9", "bob,1,1,1,9", "carol,3,3,1,9"),
				rowsIn(qConvCounters, convG, "9,9,9,3,2"),
				rowsOf(qTotals, "alice,1", "bob,1", "carol,1"),
			),
		}},
		{"participant.added past the participant limit", []applyStep{
			created(convG, "alice", "big", thousand...), // seq 1: 1000 participants
			added(convG, "alice", "erin").skip("too_many_participants").then( // seq 2
				rowsIn(`SELECT count(*), count(*) FILTER (WHERE user_id IN ('erin', 'u999')) FROM participants
					WHERE conversation_id = ?`, convG, "1000,1"),
				rowsIn(`SELECT participant_count FROM conversations WHERE id = ?`, convG, "1000"),
			),
			removed(convG, "u999", "u999"), // seq 3
			added(convG, "alice", "erin").then( // seq 4
				rowsIn(`SELECT user_id, joined_seq FROM participants WHERE conversation_id = ? AND user_id IN ('erin', 'u999')`,
					convG, "erin,4"),
				rowsIn(`SELECT participant_count FROM conversations WHERE id = ?`, convG, "1000"),
			),
		}},
		{"participant.removed", []applyStep{
			created(convG, "alice", "", "alice", "bob", "carol"), // seq 1
			sent(convG, "bob", msg1, "one", "t1"),                // seq 2
			sent(convG, "bob", msg2, "two", "t2").then( // seq 3
				rowsIn(qMembers, convG, "alice,1,1,2,3", "bob,1,1,0,3", "carol,1,1,2,3"),
				rowsOf(qTotals, "alice,2", "bob,0", "carol,2"),
			),
			removed(convG, "alice", "carol").then( // seq 4: carol's unread leaves her total (she has no conversation left)
				rowsIn(qMembers, convG, "alice,1,1,2,3", "bob,1,1,0,3"),
				rowsIn(qConvCounters, convG, "3,3,4,2,2"),
				rowsOf(qTotals, "alice,2", "bob,0"),
			),
			removed(convG, "alice", "carol").skip("not_participant"),                // seq 5: the target is not in it
			removed(convG, "carol", "bob").skip("not_participant"),                  // seq 6: the actor is not in it
			removed(convX, "alice", "alice").skip("unknown_conversation"),           // seq 7
			removed(convG, "alice", "").skip("malformed"),                           // seq 8
			sent(convG, "carol", msg3, "still here?", "t3").skip("not_participant"), // seq 9
			removed(convG, "bob", "alice"),                                          // seq 10: the creator rule is the command's, not the projection's
			removed(convG, "bob", "bob").then( // seq 11: bob leaves
				rowsIn(qMembers, convG),
				rowsIn(qConvCounters, convG, "3,3,11,0,2"),
				rowsOf(qTotals), // nobody is a member of anything
			),
			sent(convG, "alice", msg4, "anyone?", "t4").skip("not_participant").then( // seq 12
				rowsOf(`SELECT id FROM messages ORDER BY seq`, msg1, msg2),
			),
		}},
		{"message.sent", []applyStep{
			created(convG, "alice", "", "alice", "bob", "carol"), // seq 1
			sent(convG, "alice", msg1, "hello", "t1").then( // seq 2
				rowsOf(qMessages, "2,"+msg1+","+convG+",alice,hello,t1,2026-03-01T10:00:02.000000Z,NULL,NULL"),
				rowsIn(qConv, convG,
					"group,,NULL,alice,2026-03-01T10:00:01.000000Z,1,2,2,2026-03-01T10:00:02.000000Z,2,3,1"),
				rowsIn(qMembers, convG, "alice,1,1,0,2", "bob,1,1,1,2", "carol,1,1,1,2"),
				rowsOf(qTotals, "alice,0", "bob,1", "carol,1"),
			),
		}},
		{"message.sent duplicate client_temp_id: first in stream order wins", []applyStep{
			created(convG, "alice", "", "alice", "bob"),                                 // seq 1
			created(convH, "alice", "", "alice", "bob"),                                 // seq 2
			sent(convG, "alice", msg1, "first", "t1"),                                   // seq 3
			sent(convG, "alice", msg2, "second", "t1").skip("duplicate_client_temp_id"), // seq 4
			sent(convG, "bob", msg3, "bob's", "t1"),                                     // seq 5: the key is per sender
			sent(convH, "alice", msg4, "elsewhere", "t1").then( // seq 6: and per conversation
				rowsOf(`SELECT seq, id, conversation_id, sender_id, body, client_temp_id FROM messages ORDER BY seq`,
					"3,"+msg1+","+convG+",alice,first,t1",
					"5,"+msg3+","+convG+",bob,bob's,t1",
					"6,"+msg4+","+convH+",alice,elsewhere,t1"),
				rowsIn(qConvCounters, convG, "5,5,5,2,2"),
				rowsIn(qMembers, convG, "alice,1,1,1,5", "bob,1,1,1,5"),
				rowsOf(qTotals, "alice,1", "bob,2"),
			),
		}},
		{"message.sent rejected senders and payloads", []applyStep{
			created(convG, "alice", "", "alice", "bob"),                              // seq 1
			sent(convG, "dave", msg1, "let me in", "t1").skip("not_participant"),     // seq 2
			sent(convX, "alice", msg2, "anyone?", "t2").skip("unknown_conversation"), // seq 3
			sent(convG, "alice", msg3, "no temp id", "").skip("malformed"),           // seq 4
			raw(engine.MessageSent, convG, "alice", notAnObject).skip("malformed"),   // seq 5
			raw(engine.EventType("message.reacted"), convG, "alice", engine.MessageDeletedData{MessageID: msg1}).
				skip("malformed").then( // seq 6: an unknown type
				rowsOf(qMessages),
				rowsIn(qConvCounters, convG, "0,1,1,2,0"),
				rowsOf(qTotals, "alice,0", "bob,0"),
			),
		}},
		{"message.edited", []applyStep{
			created(convG, "alice", "", "alice", "bob"),  // seq 1
			created(convH, "alice", "", "alice", "bob"),  // seq 2
			sent(convG, "alice", msg1, "original", "t1"), // seq 3
			edited(convG, "alice", msg1, "edited").then( // seq 4
				rowsOf(qMessages, "3,"+msg1+","+convG+",alice,edited,t1,2026-03-01T10:00:03.000000Z,2026-03-01T10:00:04.000000Z,NULL"),
				rowsIn(qConvCounters, convG, "3,3,4,2,1"), // an edit is not activity
			),
			edited(convG, "bob", msg1, "hijacked").skip("not_sender"),                // seq 5
			edited(convG, "alice", msg9, "ghost").skip("unknown_message"),            // seq 6
			edited(convH, "alice", msg1, "wrong place").skip("unknown_message"),      // seq 7: the message is in G
			raw(engine.MessageEdited, convG, "alice", notAnObject).skip("malformed"), // seq 8
			deleted(convG, "alice", msg1),                                            // seq 9
			edited(convG, "alice", msg1, "revived").skip("deleted"),                  // seq 10
			sent(convG, "bob", msg2, "bob's", "t2"),                                  // seq 11
			removed(convG, "bob", "bob"),                                             // seq 12
			edited(convG, "bob", msg2, "from outside").skip("not_participant").then( // seq 13
				rowsOf(qMessages,
					"3,"+msg1+","+convG+",alice,,t1,2026-03-01T10:00:03.000000Z,2026-03-01T10:00:04.000000Z,2026-03-01T10:00:09.000000Z",
					"11,"+msg2+","+convG+",bob,bob's,t2,2026-03-01T10:00:11.000000Z,NULL,NULL"),
				rowsIn(qConvCounters, convG, "11,11,12,1,2"),
			),
		}},
		{"message.deleted", []applyStep{
			created(convG, "alice", "", "alice", "bob", "carol"), // seq 1
			sent(convG, "alice", msg1, "one", "t1"),              // seq 2
			sent(convG, "alice", msg2, "two", "t2"),              // seq 3
			read(convG, "bob", msg1).then( // seq 4
				rowsIn(qMembers, convG, "alice,1,1,0,3", "bob,1,2,1,3", "carol,1,1,2,3"),
				rowsOf(qTotals, "alice,0", "bob,1", "carol,2"),
			),
			deleted(convG, "alice", msg1).then( // seq 5: unread only for who had not read it
				rowsOf(qMessages,
					"2,"+msg1+","+convG+",alice,,t1,2026-03-01T10:00:02.000000Z,NULL,2026-03-01T10:00:05.000000Z",
					"3,"+msg2+","+convG+",alice,two,t2,2026-03-01T10:00:03.000000Z,NULL,NULL"),
				rowsIn(qMembers, convG, "alice,1,1,0,3", "bob,1,2,1,3", "carol,1,1,1,3"),
				rowsOf(qTotals, "alice,0", "bob,1", "carol,1"),
				rowsIn(qConvCounters, convG, "3,3,5,3,2"),
				rowsOf(qReads, msg1+",bob,"+convG+",4,2026-03-01T10:00:04.000000Z"),
			),
			deleted(convG, "alice", msg1).skip("deleted"),                             // seq 6
			deleted(convG, "bob", msg2).skip("not_sender"),                            // seq 7
			deleted(convG, "alice", msg9).skip("unknown_message"),                     // seq 8
			deleted(convX, "alice", msg2).skip("unknown_message"),                     // seq 9: looked up in X
			raw(engine.MessageDeleted, convG, "alice", notAnObject).skip("malformed"), // seq 10
			removed(convG, "alice", "alice"),                                          // seq 11
			deleted(convG, "alice", msg2).skip("not_participant").then( // seq 12
				rowsOf(`SELECT id, body, deleted_at FROM messages ORDER BY seq`,
					msg1+",,2026-03-01T10:00:05.000000Z", msg2+",two,NULL"),
				rowsIn(qMembers, convG, "bob,1,2,1,3", "carol,1,1,1,3"),
				rowsOf(qTotals, "bob,1", "carol,1"), // alice left her only conversation
			),
		}},
		{"conversation.read", []applyStep{
			created(convG, "alice", "", "alice", "bob", "carol"), // seq 1
			sent(convG, "alice", msg1, "a1", "t1"),               // seq 2
			sent(convG, "alice", msg2, "a2", "t2"),               // seq 3
			sent(convG, "bob", msg3, "b1", "t3"),                 // seq 4
			sent(convG, "alice", msg4, "a3", "t4").then( // seq 5
				rowsIn(qMarkers, convG, "alice,1,NULL,NULL,1", "bob,1,NULL,NULL,3", "carol,1,NULL,NULL,4"),
				rowsOf(qTotals, "alice,1", "bob,3", "carol,4"),
			),
			read(convG, "bob", msg2).then( // seq 6
				rowsIn(qMarkers, convG, "alice,1,NULL,NULL,1", "bob,3,"+msg2+",2026-03-01T10:00:06.000000Z,1", "carol,1,NULL,NULL,4"),
				rowsOf(qReads,
					msg1+",bob,"+convG+",6,2026-03-01T10:00:06.000000Z",
					msg2+",bob,"+convG+",6,2026-03-01T10:00:06.000000Z"),
				rowsOf(qTotals, "alice,1", "bob,1", "carol,4"),
			),
			read(convG, "bob", msg1).skip("not_forward"), // seq 7: back
			read(convG, "bob", msg2).skip("not_forward").then( // seq 8: in place
				rowsIn(qMarkers, convG, "alice,1,NULL,NULL,1", "bob,3,"+msg2+",2026-03-01T10:00:06.000000Z,1", "carol,1,NULL,NULL,4"),
				rowsOf(`SELECT count(*) FROM message_reads`, "1"), // one row per read, however many it passed
			),
			read(convG, "bob", msg4).then( // seq 9: bob's own msg3 gets no receipt
				rowsIn(qMarkers, convG, "alice,1,NULL,NULL,1", "bob,5,"+msg4+",2026-03-01T10:00:09.000000Z,0", "carol,1,NULL,NULL,4"),
				rowsOf(qReads,
					msg1+",bob,"+convG+",6,2026-03-01T10:00:06.000000Z",
					msg2+",bob,"+convG+",6,2026-03-01T10:00:06.000000Z",
					msg4+",bob,"+convG+",9,2026-03-01T10:00:09.000000Z"),
				rowsOf(qTotals, "alice,1", "bob,0", "carol,4"),
			),
			deleted(convG, "alice", msg2), // seq 10
			read(convG, "carol", msg4).then( // seq 11: the deleted msg2 gets no receipt
				rowsIn(qMarkers, convG, "alice,1,NULL,NULL,1", "bob,5,"+msg4+",2026-03-01T10:00:09.000000Z,0",
					"carol,5,"+msg4+",2026-03-01T10:00:11.000000Z,0"),
				rowsOf(qTotals, "alice,1", "bob,0", "carol,0"),
			),
			read(convG, "alice", msg3),                                                  // seq 12
			read(convG, "alice", msg9).skip("unknown_message"),                          // seq 13
			read(convG, "dave", msg1).skip("not_participant"),                           // seq 14
			read(convX, "alice", msg1).skip("unknown_conversation"),                     // seq 15
			raw(engine.ConversationRead, convG, "alice", notAnObject).skip("malformed"), // seq 16
			created(convH, "alice", "", "alice", "bob"),                                 // seq 17
			read(convH, "alice", msg4).skip("unknown_message").then( // seq 18: msg4 is in G
				rowsIn(qMarkers, convG, "alice,4,"+msg3+",2026-03-01T10:00:12.000000Z,0",
					"bob,5,"+msg4+",2026-03-01T10:00:09.000000Z,0",
					"carol,5,"+msg4+",2026-03-01T10:00:11.000000Z,0"),
				rowsIn(qMarkers, convH, "alice,17,NULL,NULL,0", "bob,17,NULL,NULL,0"),
				rowsOf(qReads,
					msg1+",bob,"+convG+",6,2026-03-01T10:00:06.000000Z",
					msg1+",carol,"+convG+",11,2026-03-01T10:00:11.000000Z",
					msg2+",bob,"+convG+",6,2026-03-01T10:00:06.000000Z",
					msg3+",alice,"+convG+",12,2026-03-01T10:00:12.000000Z",
					msg3+",carol,"+convG+",11,2026-03-01T10:00:11.000000Z",
					msg4+",bob,"+convG+",9,2026-03-01T10:00:09.000000Z",
					msg4+",carol,"+convG+",11,2026-03-01T10:00:11.000000Z"),
				rowsOf(qTotals, "alice,0", "bob,0", "carol,0"),
				rowsIn(qConvCounters, convG, "5,5,12,3,4"),
			),
		}},
	}...)
}

// TestApplyRules drives Apply through every rule and every reason it
// rejects an event for, twice: event by event, each in its own transaction
// (the reason as Apply returns it), and through the projector's batches (the
// reasons as recorded in skipped_events). Both must leave the same rows.
func TestApplyRules(t *testing.T) {
	cases := applyCases()
	reasons := map[string]bool{}
	for _, tc := range cases {
		for _, s := range tc.steps {
			reasons[s.want] = true
		}
	}
	for _, r := range []string{skipMalformed, skipUnknownConv, skipExists, skipNotParticipant, skipAlreadyMember,
		skipDuplicate, skipUnknownMessage, skipNotSender, skipDeleted, skipNotForward, skipTooMany,
		skipStaleReaction, skipTooManyKeys, skipStaleSettings, skipTooManyPins} {
		if !reasons[r] {
			t.Errorf("no case expects the reason %q", r)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("event by event", func(t *testing.T) { applyEventByEvent(t, tc.steps) })
			t.Run("projector batches", func(t *testing.T) { applyThroughProjector(t, tc.steps) })
		})
	}
}

func openApplyDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "apply.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// applyEventByEvent applies each step with Apply in a transaction of its
// own, as a projector with batches of one would, keeping the projector's
// memory between them.
func applyEventByEvent(t *testing.T, steps []applyStep) {
	ctx := context.Background()
	db := openApplyDB(t)
	cache := &stmtCache{db: db.wr(), stmts: map[string]*sql.Stmt{}}
	defer cache.close()
	st := newBatchState()
	for i, s := range steps {
		seq := uint64(i + 1)
		ev := s.event(t, seq)
		tx, err := db.wr().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		x := &Tx{ctx: ctx, tx: tx, cache: cache, bound: map[string]*sql.Stmt{}, st: st}
		got, err := Apply(x, ev)
		if err != nil {
			tx.Rollback()
			t.Fatalf("seq %d (%s by %s): %v", seq, ev.Type, ev.ActorID, err)
		}
		if got != s.want {
			t.Errorf("seq %d (%s by %s): Apply = %q, want %q", seq, ev.Type, ev.ActorID, got, s.want)
		}
		if err := x.flush(); err != nil {
			tx.Rollback()
			t.Fatalf("seq %d: flush: %v", seq, err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatalf("seq %d: commit: %v", seq, err)
		}
		st.settle()
		if err := cache.promote(ctx); err != nil {
			t.Fatal(err)
		}
		runChecks(t, db, seq, s.check)
	}
}

// applyThroughProjector applies the steps with Projector.ApplyBatch, one
// batch up to each step that has checks, and compares skipped_events with
// the reasons the steps expect.
func applyThroughProjector(t *testing.T, steps []applyStep) {
	ctx := context.Background()
	db := openApplyDB(t)
	p := NewProjector(db, nil, ProjectorConfig{})
	defer p.cache.close()
	var batch []engine.Event
	var wantSkipped []string
	for i, s := range steps {
		seq := uint64(i + 1)
		ev := s.event(t, seq)
		batch = append(batch, ev)
		if s.want != "" {
			wantSkipped = append(wantSkipped, fmt.Sprintf("%d,%s,%s,%s", seq, ev.ConversationID, ev.Type, s.want))
		}
		if len(s.check) == 0 && i < len(steps)-1 {
			continue
		}
		if err := p.ApplyBatch(ctx, batch); err != nil {
			t.Fatalf("batch through seq %d: %v", seq, err)
		}
		batch = batch[:0]
		runChecks(t, db, seq, s.check)
	}
	runChecks(t, db, uint64(len(steps)), []rowCheck{
		{query: `SELECT seq, conversation_id, type, reason FROM skipped_events ORDER BY seq`, want: wantSkipped},
		{query: `SELECT seq FROM checkpoints WHERE name = 'messages'`, want: []string{fmt.Sprint(len(steps))}},
	})
	if got := db.Applied(); got != uint64(len(steps)) {
		t.Errorf("Applied() = %d, want %d", got, len(steps))
	}
}

func runChecks(t *testing.T, db *DB, seq uint64, checks []rowCheck) {
	t.Helper()
	for _, c := range checks {
		got := queryRows(t, db, c.query, c.args...)
		if !slices.Equal(got, c.want) {
			t.Errorf("after seq %d, %s %v\n got: %q\nwant: %q", seq, strings.Join(strings.Fields(c.query), " "), c.args, got, c.want)
		}
	}
}

// queryRows renders a query's rows, each as its columns joined by ",".
func queryRows(t *testing.T, db *DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.wr().QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		dest := make([]any, len(cols))
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = "NULL"
			if v.Valid {
				parts[i] = v.String
			}
		}
		out = append(out, strings.Join(parts, ","))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
