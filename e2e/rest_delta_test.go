package e2e_test

import (
	"net/http"
	"strconv"
	"testing"

	"parley/engine"
	"parley/internal/testkit"
)

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func TestDeltaIncludesChangesToOlderMessages(t *testing.T) {
	env := testkit.Start(t)
	a, b := env.Token("a"), env.Token("b")
	conv := createConv(t, env, a, "", "b")
	m1 := sendMsg(t, env, a, conv, "one", temp(1))
	m2 := sendMsg(t, env, a, conv, "two", temp(2))
	m3 := sendMsg(t, env, b, conv, "three", temp(3))
	// b's cursor is m3; afterwards a edits m1, deletes m2 and reads m3.
	env.MustDo(http.StatusOK, "PATCH", "/api/messages/"+conv+"/"+m1.ID, a, map[string]string{"body": "one, edited"}, nil)
	env.MustDo(http.StatusOK, "DELETE", "/api/messages/"+conv+"/"+m2.ID, a, nil, nil)
	markRead(t, env, a, conv, m3.ID)
	m4 := sendMsg(t, env, a, conv, "four", temp(4))

	for _, q := range []string{"after_message_id=" + m3.ID, "after_seq=" + itoa(m3.Seq)} {
		d := delta(t, env, b, conv, q)
		var types []engine.EventType
		for _, e := range d.Events {
			types = append(types, e.Type)
		}
		want := []engine.EventType{engine.MessageEdited, engine.MessageDeleted, engine.ConversationRead, engine.MessageSent}
		if len(types) != len(want) {
			t.Fatalf("%s: events %v, want %v", q, types, want)
		}
		for i := range want {
			if types[i] != want[i] {
				t.Fatalf("%s: events %v, want %v", q, types, want)
			}
		}
		if d.Events[0].Data["message_id"] != m1.ID || d.Events[0].Data["body"] != "one, edited" {
			t.Fatalf("edit event data = %v", d.Events[0].Data)
		}
		if d.Events[1].Data["message_id"] != m2.ID || d.Events[1].Data["deleted_at"] == nil {
			t.Fatalf("delete event data = %v", d.Events[1].Data)
		}
		// From the start, the deleted message's own message.sent carries no body.
		for _, e := range delta(t, env, b, conv, "after_seq=0").Events {
			if e.Type == engine.MessageSent && e.Data["id"] == m2.ID && (e.Data["body"] != "" || e.Data["deleted_at"] == nil) {
				t.Fatalf("delta shows a deleted message: %v", e.Data)
			}
		}
		if d.Events[3].Data["id"] != m4.ID || d.Events[3].Data["client_temp_id"] != temp(4) {
			t.Fatalf("send event data = %v", d.Events[3].Data)
		}
		if d.HasMore || d.LastSeq != m4.Seq {
			t.Fatalf("has_more=%v last_seq=%d, want false and %d", d.HasMore, d.LastSeq, m4.Seq)
		}
		if d.Conversation.ID != conv || d.Conversation.UnreadCount != 2 || d.Summary.UnreadTotal != 2 {
			t.Fatalf("summary = %+v / %+v, want 2 unread (m1 and m4)", d.Conversation, d.Summary)
		}
		if d.Conversation.LastMessage == nil || d.Conversation.LastMessage.ID != m4.ID {
			t.Fatalf("summary last_message = %+v", d.Conversation.LastMessage)
		}
	}
}

func TestDeltaPaging(t *testing.T) {
	env := testkit.Start(t)
	a, b := env.Token("a"), env.Token("b")
	conv := createConv(t, env, a, "", "b")
	noise := createConv(t, env, b, "noise", "a", "c")
	var sent []engine.Message
	for i := range 25 {
		sent = append(sent, sendMsg(t, env, a, conv, "m", temp(i)))
		sendMsg(t, env, b, noise, "other conversation", temp(i))
	}
	var got []uint64
	cursor := "after_seq=0"
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		d := delta(t, env, b, conv, cursor+"&limit=10")
		for _, e := range d.Events {
			if e.Type == engine.MessageSent {
				got = append(got, e.Seq)
			}
		}
		if !d.HasMore {
			break
		}
		if len(d.Events) != 10 {
			t.Fatalf("a page with has_more holds %d events, want 10", len(d.Events))
		}
		cursor = "after_seq=" + itoa(d.LastSeq)
	}
	if len(got) != len(sent) {
		t.Fatalf("paged through %d messages, want %d", len(got), len(sent))
	}
	for i := range sent {
		if got[i] != sent[i].Seq {
			t.Fatalf("message %d has seq %d in delta, want %d", i, got[i], sent[i].Seq)
		}
	}
	// A cursor at the end gives an empty page that keeps the cursor.
	d := delta(t, env, b, conv, "after_message_id="+sent[24].ID)
	if len(d.Events) != 0 || d.HasMore || d.LastSeq != sent[24].Seq {
		t.Fatalf("delta at the end = %+v", d)
	}
}

func TestDeltaRejectsUnknownCursors(t *testing.T) {
	env := testkit.Start(t)
	a := env.Token("a")
	conv := createConv(t, env, a, "", "b")
	other := createConv(t, env, a, "", "c")
	m := sendMsg(t, env, a, other, "elsewhere", temp(1))
	for _, q := range []string{
		"after_message_id=" + m.ID,                    // a message of another conversation
		"after_message_id=01ARZ3NDEKTSV4RRFFQ69G5FAV", // no such message
		"after_message_id=not-a-ulid",                 // not an id at all
		"after_seq=999999",                            // past the end of the log
		"after_seq=-1",                                // not a sequence
		"after_seq=1&after_message_id=" + m.ID,        // two cursors
	} {
		r := env.Do("GET", "/api/messages/"+conv+"/delta?"+q, a, nil)
		if r.Status != http.StatusBadRequest {
			t.Fatalf("%s: status %d, want 400: %s", q, r.Status, r.Body)
		}
		if code := r.ErrorCode(); code != "unknown_cursor" && code != "ambiguous_cursor" {
			t.Fatalf("%s: code %q", q, code)
		}
	}
	for _, q := range []string{"limit=0", "limit=500"} {
		env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv+"/delta?after_seq=0&"+q, a, nil, nil)
	}
	if r := env.Do("GET", "/api/messages/"+conv+"/delta?after_seq=0&limit=501", a, nil); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("limit=501: status %d, want 422", r.Status)
	}
}
