package e2e_test

import (
	"slices"
	"testing"
	"time"

	"parley/internal/node"
	"parley/internal/testkit"
	"parley/streams"
)

// Two Parley nodes on one NATS, only the second running the notifications
// queue: users online on the first (bob with a socket on presence-messaging,
// dave by the REST heartbeat) are online for the second too. Its
// presence-messaging lists them to a socket there, and a message sent
// through it notifies only carol, who is online on neither node.
func TestNotifyAcrossNodes(t *testing.T) {
	a := rtStart(t, func(c *node.Config) {
		c.Notifications = false // every notification decision is b's
		c.NodeName = "node-a"
	})
	b := rtStart(t, func(c *node.Config) {
		c.NATSURL = node.ToolURL(a.Config.DataDir)
		c.NotifyRetry, c.WebhookRetry = 20*time.Millisecond, 20*time.Millisecond
		c.NodeName = "node-b"
	})
	alice, bob, carol, dave, erin := b.Token("alice"), b.Token("bob"), b.Token("carol"), b.Token("dave"), b.Token("erin")
	conv := opsGroup(t, b, alice, "bob", "carol", "dave")

	// Online on node a only.
	sbob := rtDial(t, a)
	sbob.subscribe(a, bob, "presence-messaging")
	a.MustDo(200, "POST", "/api/messages/presence/heartbeat", dave, map[string]string{}, nil)
	testkit.WaitFor(t, opsWait, "node b to count bob and dave online", func() bool {
		st := opsGetStats(t, b)
		return st.Presence != nil && st.Presence.OnlineUsers == 2
	})

	// presence-messaging on node b lists who joined on node a (erin's
	// contacts: she shares a conversation with them, one without messages).
	opsGroup(t, b, erin, "bob", "dave")
	serin := rtDial(t, b)
	f := serin.subscribe(b, erin, "presence-messaging")
	var p struct {
		Presence struct {
			IDs []string `json:"ids"`
		} `json:"presence"`
	}
	f.decode(t, &p)
	slices.Sort(p.Presence.IDs)
	if !slices.Equal(p.Presence.IDs, []string{"bob", "dave", "erin"}) {
		t.Fatalf("presence-messaging on node b lists %v, want [bob dave erin]", p.Presence.IDs)
	}

	msg := opsSend(t, b, alice, conv, "anyone around?")
	got := opsWaitNotifications(t, b, carol, 1)
	if n := got.Notifications[0]; n.UserID != "carol" || n.MessageID != msg.ID || n.ConversationID != conv {
		t.Fatalf("carol's notification: %+v", n)
	}
	// The job is done (the queue idle up to the message): what it did not
	// append for bob and dave it never will.
	st := opsQueueIdle(t, b, streams.StreamName, streams.NotifyConsumer)
	if n := st.Notifications; n.Messages != 1 || n.Created != 1 || n.SkippedOnline != 2 {
		t.Fatalf("node b's notifier: %d messages, %d notifications, %d recipients skipped as online; want 1, 1 and 2 (%+v)",
			n.Messages, n.Created, n.SkippedOnline, n)
	}
	if s := opsStream(st, streams.NotificationsStream); s.Messages != 1 {
		t.Fatalf("NOTIFICATIONS holds %d events, want 1 (carol's)", s.Messages)
	}
	for user, tok := range map[string]string{"bob": bob, "dave": dave, "alice": alice} {
		for _, env := range []*testkit.Env{a, b} {
			if p := opsNotifications(t, env, tok, ""); len(p.Notifications) != 0 {
				t.Errorf("%s, online on node a or the sender, has notifications on %s: %+v", user, env.Config.NodeName, p.Notifications)
			}
		}
	}
	if st := opsGetStats(t, a); st.Notifications.Messages != 0 || st.Notifications.SkippedOnline != 0 {
		t.Fatalf("node a runs no notifications queue, yet counts %+v", st.Notifications)
	}
}
