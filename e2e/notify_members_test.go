package e2e_test

import (
	"net/http"
	"testing"

	"parley/internal/node"
	"parley/internal/testkit"
	"parley/streams"
)

// The notifier remembers who a conversation's members are, so a job whose
// recipients are all online reads nothing. A participant added later, and
// offline, must still be notified: the membership change drops what was
// remembered.
func TestNotifyMemberAddedAfterAllOnline(t *testing.T) {
	env := opsStart(t, func(*node.Config) {})
	alice, bob, carol := env.Token("alice"), env.Token("bob"), env.Token("carol")
	conv := opsGroup(t, env, alice, "bob")

	env.MustDo(http.StatusOK, "POST", "/api/messages/presence/heartbeat", bob, map[string]string{}, nil)
	testkit.WaitFor(t, opsWait, "bob online on this node", func() bool {
		st := opsGetStats(t, env)
		return st.Presence != nil && st.Presence.OnlineUsers == 1
	})
	opsSend(t, env, alice, conv, "first, bob is online")
	st := opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	if st.Notifications.Messages != 1 || st.Notifications.SkippedOnline != 1 || st.Notifications.Created != 0 {
		t.Fatalf("after the first message: %+v", st.Notifications)
	}

	env.MustDo(http.StatusOK, "POST", "/api/conversations/"+conv+"/participants", alice,
		map[string][]string{"user_ids": {"carol"}}, nil)
	msg := opsSend(t, env, alice, conv, "second, carol is offline")
	got := opsWaitNotifications(t, env, carol, 1)
	if n := got.Notifications[0]; n.MessageID != msg.ID || n.UserID != "carol" {
		t.Fatalf("carol's notification: %+v", n)
	}
	st = opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	if st.Notifications.Messages != 2 || st.Notifications.SkippedOnline != 2 || st.Notifications.Created != 1 {
		t.Fatalf("after the second message: %+v", st.Notifications)
	}
	if p := opsNotifications(t, env, bob, ""); len(p.Notifications) != 0 {
		t.Fatalf("bob was online and got %+v", p)
	}
}
