package e2e_test

import (
	"net/http"
	"testing"
	"time"

	"parley/engine"
	"parley/internal/node"
	"parley/internal/notify"
	"parley/streams"
)

// Messages to an offline user within the window collapse into one
// notification with a count; reading it closes it, so the next message
// opens another. Paging, unread filtering and mark-read (ids and all) work,
// and none of it touches the conversation unread badge.
func TestNotifyBatchingPagingAndRead(t *testing.T) {
	env := opsStart(t, func(c *node.Config) { c.NotifyWindow = time.Hour })
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := opsGroup(t, env, alice, "bob")
	other := opsGroup(t, env, alice, "bob")

	opsSend(t, env, alice, conv, "one")
	opsSend(t, env, alice, conv, "two")
	last := opsSend(t, env, alice, conv, "three")
	opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer) // the queue runs jobs in parallel: fix the order
	opsSend(t, env, alice, other, "elsewhere")
	opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	page := opsWaitNotifications(t, env, bob, 2)
	batched := page.Notifications[1] // newest first: the "other" conversation's is newer
	if batched.ConversationID != conv || batched.Count != 3 || batched.LastMessageID != last.ID || batched.Preview != "three" {
		t.Fatalf("batched notification: %+v", batched)
	}
	if page.UnreadCount != 2 {
		t.Fatalf("unread_count %d, want 2", page.UnreadCount)
	}

	var badge engine.ConversationList
	env.MustDo(http.StatusOK, "GET", "/api/conversations", bob, nil, &badge)

	// Paging: one per page, newest first.
	p1 := opsNotifications(t, env, bob, "limit=1")
	if len(p1.Notifications) != 1 || p1.NextCursor == nil || p1.Notifications[0].ConversationID != other {
		t.Fatalf("first page: %+v", p1)
	}
	p2 := opsNotifications(t, env, bob, "limit=1&cursor="+*p1.NextCursor)
	if len(p2.Notifications) != 1 || p2.NextCursor != nil || p2.Notifications[0].ID != batched.ID {
		t.Fatalf("second page: %+v", p2)
	}

	var rs notify.NotificationsReadState
	env.MustDo(http.StatusOK, "POST", "/api/notifications/read", bob, map[string]any{"ids": []string{batched.ID}}, &rs)
	if rs.UnreadCount != 1 {
		t.Fatalf("after reading one: unread %d", rs.UnreadCount)
	}
	// A read notification takes no more messages: the next one opens another.
	opsSend(t, env, alice, conv, "four")
	opsWaitNotifications(t, env, bob, 3)
	unread := opsNotifications(t, env, bob, "unread=true")
	if len(unread.Notifications) != 2 || unread.UnreadCount != 2 {
		t.Fatalf("unread: %+v", unread)
	}
	for _, n := range unread.Notifications {
		if n.ID == batched.ID {
			t.Fatal("a read notification is listed as unread")
		}
	}
	// Someone else's ids change nothing; all:true reads the rest.
	env.MustDo(http.StatusOK, "POST", "/api/notifications/read", alice, map[string]any{"ids": []string{unread.Notifications[0].ID}}, &rs)
	if n := opsNotifications(t, env, bob, "unread=true"); n.UnreadCount != 2 {
		t.Fatalf("alice marked bob's notification: %+v", n)
	}
	env.MustDo(http.StatusOK, "POST", "/api/notifications/read", bob, map[string]any{"all": true}, &rs)
	if rs.UnreadCount != 0 {
		t.Fatalf("after all: unread %d", rs.UnreadCount)
	}
	var after engine.ConversationList
	env.MustDo(http.StatusOK, "GET", "/api/conversations", bob, nil, &after)
	if after.Summary.UnreadTotal != badge.Summary.UnreadTotal+1 || after.Summary.UnreadTotal != 5 {
		t.Fatalf("the unread badge moved with notifications: before %d (4 messages), after %d (5 messages)",
			badge.Summary.UnreadTotal, after.Summary.UnreadTotal)
	}

	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"neither", map[string]any{}, 422, "ids_required"},
		{"both", map[string]any{"ids": []string{batched.ID}, "all": true}, 422, "ids_or_all"},
		{"bad id", map[string]any{"ids": []string{"nope"}}, 422, "invalid_notification_id"},
		{"unknown field", map[string]any{"every": true}, 400, "unknown_field"},
	} {
		if r := env.Do("POST", "/api/notifications/read", bob, tc.body); r.Status != tc.status || r.ErrorCode() != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.Status, r.ErrorCode(), tc.status, tc.code)
		}
	}
	for q, code := range map[string]string{"limit=0x": "invalid_limit", "cursor=abc": "invalid_cursor", "unread=maybe": "invalid_unread"} {
		if r := env.Do("GET", "/api/notifications?"+q, bob, nil); r.Status != 400 || r.ErrorCode() != code {
			t.Errorf("%s: %d %s, want 400 %s", q, r.Status, r.ErrorCode(), code)
		}
	}
	if r := env.Do("GET", "/api/notifications?limit=201", bob, nil); r.Status != 422 {
		t.Errorf("limit=201: %d", r.Status)
	}
	if r := env.Do("GET", "/api/notifications", "", nil); r.Status != 401 {
		t.Errorf("no token: %d", r.Status)
	}
}
