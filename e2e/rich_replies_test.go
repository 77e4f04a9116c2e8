package e2e_test

import (
	"net/http"
	"strings"
	"testing"

	"parley/engine"
	"parley/internal/testkit"
)

// reply sends body as a reply to replyTo and expects status.
func reply(t *testing.T, env *testkit.Env, tok, conv, body, temp, replyTo string, status int) engine.Message {
	t.Helper()
	var m engine.Message
	env.MustDo(status, "POST", "/api/messages/"+conv, tok,
		map[string]string{"body": body, "client_temp_id": temp, "reply_to": replyTo}, &m)
	return m
}

// historyMessage finds a message in the conversation's newest page.
func historyMessage(t *testing.T, env *testkit.Env, tok, conv, id string) engine.Message {
	t.Helper()
	var page engine.MessagePage
	env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv, tok, nil, &page)
	for _, m := range page.Messages {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("message %s is not in the history page", id)
	return engine.Message{}
}

// A reply carries its target and a quote of it; the target counts its
// replies; the replies page; a retry appends nothing; a target that is not
// a live message of the conversation is refused; a deleted target's quote
// says so without its text; and the read models equal the log rebuilt.
func TestRepliesQuoteTheirTargetAndArePaged(t *testing.T) {
	env := opsStart(t)
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := createConv(t, env, alice, "room", "bob")
	other := createConv(t, env, alice, "elsewhere", "carol")
	long := strings.Repeat("é", 150) // 150 characters, 300 bytes
	parent := sendMsg(t, env, alice, conv, long, "p")
	foreign := sendMsg(t, env, alice, other, "not here", "f")

	r1 := reply(t, env, bob, conv, "first answer", "r1", parent.ID, http.StatusCreated)
	if r1.ReplyTo == nil || *r1.ReplyTo != parent.ID {
		t.Fatalf("reply_to = %v, want %s", r1.ReplyTo, parent.ID)
	}
	if r1.Quote == nil || r1.Quote.SenderID != "alice" || r1.Quote.Body != strings.Repeat("é", 100) || r1.Quote.Deleted {
		t.Fatalf("quote = %+v, want alice and the first 100 characters", r1.Quote)
	}
	// A retry answers the original and appends nothing, whatever it names.
	before := logLast(t, env)
	again := reply(t, env, bob, conv, "first answer", "r1", parent.ID, http.StatusOK)
	if again.ID != r1.ID || logLast(t, env) != before {
		t.Fatalf("retry: id %s (want %s), log %d -> %d", again.ID, r1.ID, before, logLast(t, env))
	}
	r2 := reply(t, env, alice, conv, "second answer", "r2", parent.ID, http.StatusCreated)
	r3 := reply(t, env, bob, conv, "third answer", "r3", parent.ID, http.StatusCreated)

	p := historyMessage(t, env, alice, conv, parent.ID)
	if p.ReplyCount != 3 || p.LastReplyAt == nil || *p.LastReplyAt != r3.CreatedAt {
		t.Fatalf("target: reply_count %d last_reply_at %v, want 3 and %s", p.ReplyCount, p.LastReplyAt, r3.CreatedAt)
	}
	if h := historyMessage(t, env, bob, conv, r2.ID); h.Quote == nil || h.Quote.Body != strings.Repeat("é", 100) {
		t.Fatalf("reply in history: quote %+v", h.Quote)
	}

	// Paged, oldest first, two at a time.
	var page engine.MessagePage
	env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv+"/"+parent.ID+"/replies?limit=2", bob, nil, &page)
	if len(page.Messages) != 2 || page.Messages[0].ID != r2.ID || page.Messages[1].ID != r3.ID || !page.HasMore || page.NextBefore == nil {
		t.Fatalf("first page: %+v", page)
	}
	env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv+"/"+parent.ID+"/replies?limit=2&before_id="+*page.NextBefore, bob, nil, &page)
	if len(page.Messages) != 1 || page.Messages[0].ID != r1.ID || page.HasMore {
		t.Fatalf("second page: %+v", page)
	}
	// A message without replies has an empty page, not null.
	r := env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv+"/"+r1.ID+"/replies", bob, nil, &page)
	if len(page.Messages) != 0 || !strings.Contains(string(r.Body), `"messages":[]`) {
		t.Fatalf("replies of a reply: %s", r.Body)
	}

	// Refused targets append nothing.
	before = logLast(t, env)
	for _, c := range []struct{ name, replyTo, code string }{
		{"another conversation's message", foreign.ID, "invalid_reply_to"},
		{"an unknown id", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "invalid_reply_to"},
		{"not an id", "hello", "invalid_reply_to"},
	} {
		resp := env.Do("POST", "/api/messages/"+conv, bob, map[string]string{"body": "x", "client_temp_id": "bad-" + strings.ReplaceAll(c.name, " ", "-"), "reply_to": c.replyTo})
		if resp.Status != http.StatusUnprocessableEntity || resp.ErrorCode() != c.code {
			t.Errorf("reply to %s: %d %s, want 422 %s", c.name, resp.Status, resp.Body, c.code)
		}
	}
	if logLast(t, env) != before {
		t.Fatalf("refused replies appended events")
	}

	// Deleting a reply lowers the count; deleting the target turns its
	// quotes into "deleted" and refuses new replies to it.
	env.MustDo(http.StatusOK, "DELETE", "/api/messages/"+conv+"/"+r3.ID, bob, nil, nil)
	if p := historyMessage(t, env, alice, conv, parent.ID); p.ReplyCount != 2 {
		t.Fatalf("after deleting a reply: reply_count %d, want 2", p.ReplyCount)
	}
	env.MustDo(http.StatusOK, "DELETE", "/api/messages/"+conv+"/"+parent.ID, alice, nil, nil)
	h := historyMessage(t, env, bob, conv, r1.ID)
	if h.Quote == nil || !h.Quote.Deleted || h.Quote.Body != "" || h.Quote.SenderID != "alice" {
		t.Fatalf("quote of a deleted target: %+v", h.Quote)
	}
	resp := env.Do("POST", "/api/messages/"+conv, bob, map[string]string{"body": "late", "client_temp_id": "late", "reply_to": parent.ID})
	if resp.Status != http.StatusConflict || resp.ErrorCode() != "message_deleted" {
		t.Fatalf("reply to a deleted message: %d %s, want 409 message_deleted", resp.Status, resp.Body)
	}
	// The delta carries the reply's target; the deleted text is in no answer.
	d := delta(t, env, bob, conv, "after_seq=0")
	replies := 0
	for _, ev := range d.Events {
		if ev.Type == engine.MessageSent && ev.Data["reply_to"] == parent.ID {
			replies++
		}
	}
	if replies != 3 {
		t.Fatalf("delta holds %d replies to the target, want 3", replies)
	}
	if strings.Contains(string(env.Do("GET", "/api/messages/"+conv+"/delta?after_seq=0", bob, nil).Body), "éééé") {
		t.Fatal("the delta still carries the deleted target's text")
	}

	assertReadModelsEqualTheLog(t, env)
}
