package e2e_test

import (
	"net/http"
	"testing"

	"parley/engine"
	"parley/internal/testkit"
)

// Unread arithmetic across three users: own messages never count, markers
// only move forward, receipts expand from markers, deletes and removals keep
// the totals exact.
func TestUnreadAndReadMarkers(t *testing.T) {
	env := testkit.Start(t)
	a, b, c := env.Token("a"), env.Token("b"), env.Token("c")
	conv := createConv(t, env, a, "team", "b", "c")
	direct := createConv(t, env, a, "", "c")

	a1 := sendMsg(t, env, a, conv, "a1", temp(1))
	b1 := sendMsg(t, env, b, conv, "b1", temp(2))
	a2 := sendMsg(t, env, a, conv, "a2", temp(3))
	b2 := sendMsg(t, env, b, conv, "b2", temp(4))
	a3 := sendMsg(t, env, a, conv, "a3", temp(5))
	d1 := sendMsg(t, env, a, direct, "d1", temp(6))

	expect := func(tok, name string, inConv, total int64) {
		t.Helper()
		if got := unreadIn(t, env, tok, conv); got != inConv {
			t.Fatalf("%s: unread_count = %d, want %d", name, got, inConv)
		}
		if got := unreadTotal(t, env, tok); got != total {
			t.Fatalf("%s: unread_total = %d, want %d", name, got, total)
		}
	}
	expect(a, "a", 2, 2) // b1, b2
	expect(b, "b", 3, 3) // a1, a2, a3
	expect(c, "c", 5, 6) // all five, plus d1

	// c reads up to a2: a1, b1, a2 become read; receipts for exactly those.
	st := markRead(t, env, c, conv, a2.ID)
	if st.Conversation.UnreadCount != 2 || st.Summary.UnreadTotal != 3 {
		t.Fatalf("read answer = %+v, want unread_count 2 and unread_total 3", st)
	}
	for _, m := range []engine.Message{a1, b1, a2} {
		if !hasReceipt(t, env, a, conv, m.ID, "c") {
			t.Fatalf("no receipt by c for %s", m.Body)
		}
	}
	if hasReceipt(t, env, a, conv, b2.ID, "c") {
		t.Fatal("receipt by c for b2, which is past the marker")
	}
	// An older message is a no-op, not an error, and the marker stays.
	st = markRead(t, env, c, conv, a1.ID)
	if st.Conversation.LastReadSeq != a2.Seq || st.Conversation.UnreadCount != 2 {
		t.Fatalf("reading an older message moved the marker: %+v", st.Conversation)
	}
	// b reads everything: its own messages get no receipt from b.
	markRead(t, env, b, conv, a3.ID)
	expect(b, "b", 0, 0)
	if hasReceipt(t, env, a, conv, b1.ID, "b") {
		t.Fatal("b has a receipt for its own message")
	}
	if !hasReceipt(t, env, a, conv, a3.ID, "b") {
		t.Fatal("b has no receipt for a3")
	}
	// Deleting an unread message takes it out of the counts of those who had not read it.
	env.MustDo(http.StatusOK, "DELETE", "/api/messages/"+conv+"/"+a3.ID, a, nil, nil)
	expect(c, "c", 1, 2) // b2 and d1 left
	expect(b, "b", 0, 0)
	// Removing c takes c's unread out of c's total; re-adding starts from zero.
	env.MustDo(http.StatusNoContent, "DELETE", "/api/conversations/"+conv+"/participants/c", a, nil, nil)
	if got := unreadTotal(t, env, c); got != 1 {
		t.Fatalf("c's unread_total after removal = %d, want 1 (d1)", got)
	}
	env.MustDo(http.StatusOK, "POST", "/api/conversations/"+conv+"/participants", a, map[string]any{"user_ids": []string{"c"}}, nil)
	expect(c, "c", 0, 1)
	sendMsg(t, env, b, conv, "b3", temp(7))
	expect(c, "c", 1, 2)
	markRead(t, env, c, direct, d1.ID)
	expect(c, "c", 1, 1)
}

func hasReceipt(t *testing.T, env *testkit.Env, tok, conv, msgID, user string) bool {
	t.Helper()
	var r struct {
		Reads []engine.Receipt `json:"reads"`
	}
	env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv+"/"+msgID+"/reads", tok, nil, &r)
	for _, x := range r.Reads {
		if x.UserID == user {
			return true
		}
	}
	return false
}

// The sender reads its own write: when send returns, history, list and delta
// already hold the message.
func TestReadYourWrites(t *testing.T) {
	env := testkit.Start(t)
	a := env.Token("a")
	conv := createConv(t, env, a, "", "b")
	for i := range 20 {
		m := sendMsg(t, env, a, conv, "m", temp(i))
		var page engine.MessagePage
		env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv+"?limit=1", a, nil, &page)
		if len(page.Messages) != 1 || page.Messages[0].ID != m.ID {
			t.Fatalf("history after send %d = %+v", i, page.Messages)
		}
		var l engine.ConversationList
		env.MustDo(http.StatusOK, "GET", "/api/conversations", a, nil, &l)
		if l.Conversations[0].LastMessage == nil || l.Conversations[0].LastMessage.ID != m.ID {
			t.Fatalf("list after send %d shows last message %+v", i, l.Conversations[0].LastMessage)
		}
		d := delta(t, env, a, conv, "after_seq="+itoa(m.Seq-1))
		if len(d.Events) != 1 || d.Events[0].Seq != m.Seq {
			t.Fatalf("delta after send %d = %+v", i, d.Events)
		}
	}
}
