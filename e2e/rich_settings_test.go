package e2e_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"parley/engine"
	"parley/internal/node"
	"parley/internal/testkit"
)

// settings changes the caller's settings of a conversation.
func settings(t *testing.T, env *testkit.Env, tok, conv string, patch map[string]bool) engine.ConversationSummary {
	t.Helper()
	var s engine.ConversationSummary
	env.MustDo(http.StatusOK, "PATCH", "/api/conversations/"+conv+"/settings", tok, patch, &s)
	return s
}

// listIDs lists the caller's conversation ids with a raw query.
func listIDs(t *testing.T, env *testkit.Env, tok, query string) ([]string, engine.ConversationList) {
	t.Helper()
	var l engine.ConversationList
	env.MustDo(http.StatusOK, "GET", "/api/conversations?"+query, tok, nil, &l)
	var ids []string
	for _, c := range l.Conversations {
		ids = append(ids, c.ID)
	}
	return ids, l
}

// A muted conversation sends its member no offline notification, unless a
// message mentions them, and still counts as unread; the settings are the
// member's own (no other member sees them, in answers, deltas or
// channels); setting what is set appends nothing, concurrently too.
func TestMutedConversationsNotifyOnlyMentions(t *testing.T) {
	env := rtStart(t, func(c *node.Config) {
		c.NotifyRetry, c.WebhookRetry = opsWait/100, opsWait/100
	})
	alice, bob := env.Token("alice"), env.Token("bob")
	muted := createConv(t, env, alice, "muted", "bob")
	other := createConv(t, env, alice, "other", "bob")

	sock := rtDial(t, env)
	sock.subscribe(env, bob, "private-user.bob")
	before := logLast(t, env)
	if s := settings(t, env, bob, muted, map[string]bool{"muted": true}); !s.Muted || s.Pinned || s.Archived {
		t.Fatalf("after muting: %+v", s)
	}
	var up engine.ConversationUpdate
	sock.nextWhere("conversation.updated", func(f rtFrame) bool {
		f.decode(t, &up)
		return up.Conversation.ID == muted && up.Conversation.Muted
	})
	// Eight requests at once for the same setting, and one more later:
	// nothing more is appended.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := env.Do("PATCH", "/api/conversations/"+muted+"/settings", bob, map[string]bool{"muted": true}); r.Status != http.StatusOK {
				t.Errorf("concurrent mute: %d %s", r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	if n := logLast(t, env) - before; n != 1 {
		t.Fatalf("muting appended %d events, want 1", n)
	}
	if s := summaryOf(t, env, alice, muted); s.Muted {
		t.Fatal("alice sees bob's mute as hers")
	}

	plain := sendMsg(t, env, alice, muted, "plain", "plain")
	mention := sendMsg(t, env, alice, muted, "@bob urgent", "urgent")
	fence := sendMsg(t, env, alice, other, "fence", "fence")
	// The fence's notification comes after the muted conversation's jobs:
	// then bob has exactly the mention's.
	p := opsWaitNotifications(t, env, bob, 2)
	got := map[string]string{}
	for _, n := range p.Notifications {
		got[n.ConversationID] = n.MessageID
	}
	if got[muted] != mention.ID || got[other] != fence.ID || len(p.Notifications) != 2 {
		t.Fatalf("notifications %+v; want the mention %s in the muted conversation (not %s) and the fence %s", p.Notifications, mention.ID, plain.ID, fence.ID)
	}
	if s := summaryOf(t, env, bob, muted); s.UnreadCount != 2 || s.MentionCount != 1 {
		t.Fatalf("muted: unread %d mentions %d, want 2 and 1", s.UnreadCount, s.MentionCount)
	}
	// Alice's delta and her socket hold nothing of bob's settings.
	for _, ev := range delta(t, env, alice, muted, "after_seq=0").Events {
		if ev.Type == engine.ParticipantSettings {
			t.Fatalf("alice's delta carries bob's settings: %+v", ev)
		}
	}
	if r := env.Do("PATCH", "/api/conversations/"+muted+"/settings", bob, map[string]any{}); r.Status != http.StatusUnprocessableEntity || r.ErrorCode() != "settings_required" {
		t.Fatalf("empty settings: %d %s", r.Status, r.Body)
	}
	if r := env.Do("PATCH", "/api/conversations/"+muted+"/settings", bob, map[string]any{"muted": "yes"}); r.Status != http.StatusBadRequest {
		t.Fatalf("a string for a flag: %d %s", r.Status, r.Body)
	}

	assertReadModelsEqualTheLog(t, env)
}

// Archived conversations leave the default list until a new message;
// pinned ones lead its first page, at most ten.
func TestArchivedAndPinnedConversationsInTheList(t *testing.T) {
	env := testkit.Start(t)
	alice, bob := env.Token("alice"), env.Token("bob")
	var convs []string
	for i := range 4 {
		c := createConv(t, env, alice, fmt.Sprint("c", i), "bob")
		sendMsg(t, env, alice, c, "hello", fmt.Sprint("h", i))
		convs = append(convs, c)
	}
	// Newest first: c3 c2 c1 c0.
	totalBefore := unreadTotal(t, env, bob)
	if s := settings(t, env, bob, convs[2], map[string]bool{"archived": true}); !s.Archived {
		t.Fatalf("after archiving: %+v", s)
	}
	ids, l := listIDs(t, env, bob, "")
	if want := []string{convs[3], convs[1], convs[0]}; fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("default list %v, want %v", ids, want)
	}
	if l.Summary.UnreadTotal != totalBefore {
		t.Fatalf("archiving changed unread_total %d -> %d", totalBefore, l.Summary.UnreadTotal)
	}
	if ids, _ := listIDs(t, env, bob, "archived=true"); fmt.Sprint(ids) != fmt.Sprint([]string{convs[2]}) {
		t.Fatalf("archived list %v", ids)
	}
	if ids, _ := listIDs(t, env, alice, ""); len(ids) != 4 {
		t.Fatalf("alice's list lost bob's archived conversation: %v", ids)
	}
	// A new message brings it back.
	sendMsg(t, env, alice, convs[2], "back", "back")
	if ids, _ := listIDs(t, env, bob, ""); ids[0] != convs[2] || len(ids) != 4 {
		t.Fatalf("after a new message: %v", ids)
	}
	if s := summaryOf(t, env, bob, convs[2]); s.Archived {
		t.Fatal("still archived after a new message")
	}

	// Pinned first, then the rest by activity; paging past the first page
	// does not repeat them.
	settings(t, env, bob, convs[0], map[string]bool{"pinned": true})
	ids, l = listIDs(t, env, bob, "limit=2")
	if want := []string{convs[0], convs[2], convs[3]}; fmt.Sprint(ids) != fmt.Sprint(want) || !l.Conversations[0].Pinned || l.NextCursor == nil {
		t.Fatalf("pinned first: %v (want %v), cursor %v", ids, want, l.NextCursor)
	}
	if ids, _ := listIDs(t, env, bob, "limit=2&cursor="+*l.NextCursor); fmt.Sprint(ids) != fmt.Sprint([]string{convs[1]}) {
		t.Fatalf("second page %v, want [%s]", ids, convs[1])
	}
	// Ten pins at most.
	for i := range 9 {
		c := createConv(t, env, bob, fmt.Sprint("p", i), "alice")
		settings(t, env, bob, c, map[string]bool{"pinned": true})
	}
	extra := createConv(t, env, bob, "eleventh", "alice")
	if r := env.Do("PATCH", "/api/conversations/"+extra+"/settings", bob, map[string]bool{"pinned": true}); r.Status != http.StatusConflict || r.ErrorCode() != "too_many_pins" {
		t.Fatalf("an eleventh pin: %d %s", r.Status, r.Body)
	}
	if s := settings(t, env, bob, convs[0], map[string]bool{"pinned": false}); s.Pinned {
		t.Fatal("unpinning left it pinned")
	}
	settings(t, env, bob, extra, map[string]bool{"pinned": true})
	if r := env.Do("GET", "/api/conversations?archived=maybe", bob, nil); r.Status != http.StatusBadRequest || r.ErrorCode() != "invalid_archived" {
		t.Fatalf("archived=maybe: %d %s", r.Status, r.Body)
	}
}
