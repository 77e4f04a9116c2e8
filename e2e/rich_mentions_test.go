package e2e_test

import (
	"net/http"
	"slices"
	"testing"

	"parley/engine"
	"parley/internal/testkit"
)

// summaryOf reads the caller's summary of one conversation.
func summaryOf(t *testing.T, env *testkit.Env, tok, conv string) engine.ConversationSummary {
	t.Helper()
	var d engine.ConversationDetail
	env.MustDo(http.StatusOK, "GET", "/api/conversations/"+conv, tok, nil, &d)
	return d.ConversationSummary
}

// "@name" of a participant is a mention: the message lists it, the member's
// mention_count counts it until they read past it, an edit or a deletion
// changes the count, it reaches the member live, and the read models
// rebuild equal.
func TestMentionsAreCountedUntilRead(t *testing.T) {
	env := rtStart(t)
	alice, bob, carol := env.Token("alice"), env.Token("bob"), env.Token("carol")
	conv := createConv(t, env, alice, "room", "bob", "carol")

	sock := rtDial(t, env)
	sock.subscribe(env, bob, "private-user.bob")

	m1 := sendMsg(t, env, alice, conv, "hi @bob and @carol, not @nobody, mail x@bob.com, @alice", "m1")
	if want := []string{"bob", "carol"}; !slices.Equal(m1.Mentions, want) {
		t.Fatalf("mentions %v, want %v (not a stranger, an address or the sender)", m1.Mentions, want)
	}
	// Live: bob's conversation.updated carries his count.
	var up engine.ConversationUpdate
	sock.nextWhere("conversation.updated", func(f rtFrame) bool {
		f.decode(t, &up)
		return up.Seq == m1.Seq
	})
	if up.Conversation.MentionCount != 1 || up.Conversation.UnreadCount != 1 {
		t.Fatalf("live update: mention_count %d unread %d, want 1 and 1", up.Conversation.MentionCount, up.Conversation.UnreadCount)
	}
	m2 := sendMsg(t, env, alice, conv, "@bob, again", "m2")
	if !slices.Equal(m2.Mentions, []string{"bob"}) {
		t.Fatalf("punctuated mention: %v", m2.Mentions)
	}
	sendMsg(t, env, carol, conv, "no mention here", "m3")
	if h := historyMessage(t, env, bob, conv, m1.ID); !slices.Equal(h.Mentions, []string{"bob", "carol"}) {
		t.Fatalf("history mentions %v", h.Mentions)
	}
	if s := summaryOf(t, env, bob, conv); s.MentionCount != 2 || s.UnreadCount != 3 {
		t.Fatalf("bob: mention_count %d unread %d, want 2 and 3", s.MentionCount, s.UnreadCount)
	}
	if s := summaryOf(t, env, carol, conv); s.MentionCount != 1 {
		t.Fatalf("carol: mention_count %d, want 1", s.MentionCount)
	}

	// An edit that drops bob and names carol moves the counts.
	var edited engine.Message
	env.MustDo(http.StatusOK, "PATCH", "/api/messages/"+conv+"/"+m2.ID, alice, map[string]string{"body": "@carol, again"}, &edited)
	if !slices.Equal(edited.Mentions, []string{"carol"}) {
		t.Fatalf("edited mentions %v", edited.Mentions)
	}
	if b, c := summaryOf(t, env, bob, conv), summaryOf(t, env, carol, conv); b.MentionCount != 1 || c.MentionCount != 2 {
		t.Fatalf("after the edit: bob %d carol %d, want 1 and 2", b.MentionCount, c.MentionCount)
	}
	// Reading past a mention clears it; a deletion takes one away.
	markRead(t, env, bob, conv, m1.ID)
	if s := summaryOf(t, env, bob, conv); s.MentionCount != 0 {
		t.Fatalf("bob after reading: mention_count %d", s.MentionCount)
	}
	env.MustDo(http.StatusOK, "DELETE", "/api/messages/"+conv+"/"+m2.ID, alice, nil, nil)
	if s := summaryOf(t, env, carol, conv); s.MentionCount != 1 {
		t.Fatalf("carol after the deletion: mention_count %d, want 1", s.MentionCount)
	}
	// The list carries it too.
	var l engine.ConversationList
	env.MustDo(http.StatusOK, "GET", "/api/conversations", carol, nil, &l)
	if len(l.Conversations) != 1 || l.Conversations[0].MentionCount != 1 {
		t.Fatalf("carol's list: %+v", l.Conversations)
	}

	assertReadModelsEqualTheLog(t, env)
}
