package e2e_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"parley/internal/node"
	"parley/internal/notify"
	"parley/internal/testkit"
	"parley/streams"
)

// An online recipient (kept online by the REST heartbeat) gets no
// notification; an offline one gets exactly one, even though the first
// delivery of the job fails after its append and the consumer redelivers it.
func TestNotifyOnlyOfflineRecipientsExactlyOnce(t *testing.T) {
	var mu sync.Mutex
	failed := map[string]bool{}
	env := opsStart(t, func(c *node.Config) {
		c.NotifyAfterAppend = func(messageID string) error {
			mu.Lock()
			defer mu.Unlock()
			if !failed[messageID] {
				failed[messageID] = true
				return errors.New("injected: crash between append and ack")
			}
			return nil
		}
	})
	alice, bob, carol := env.Token("alice"), env.Token("bob"), env.Token("carol")
	conv := opsGroup(t, env, alice, "bob", "carol")

	env.MustDo(http.StatusOK, "POST", "/api/messages/presence/heartbeat", bob, map[string]string{}, nil)
	testkit.WaitFor(t, opsWait, "bob online on this node", func() bool {
		st := opsGetStats(t, env)
		return st.Presence != nil && st.Presence.OnlineUsers == 1
	})

	msg := opsSend(t, env, alice, conv, "lunch at noon?")
	got := opsWaitNotifications(t, env, carol, 1)
	st := opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)

	n := got.Notifications[0]
	if n.UserID != "carol" || n.ConversationID != conv || n.MessageID != msg.ID || n.LastMessageID != msg.ID ||
		n.SenderID != "alice" || n.Count != 1 || n.Preview != "lunch at noon?" || n.ReadAt != nil || got.UnreadCount != 1 {
		t.Fatalf("carol's notification: %+v (unread %d)", n, got.UnreadCount)
	}
	if p := opsNotifications(t, env, bob, ""); len(p.Notifications) != 0 || p.UnreadCount != 0 {
		t.Fatalf("bob was online and got %+v", p)
	}
	if p := opsNotifications(t, env, alice, ""); len(p.Notifications) != 0 {
		t.Fatalf("the sender got %+v", p)
	}
	// The job ran twice (the first attempt failed after appending), the
	// stream holds one notification and the projection one row.
	if st.Notifications.Queue.Retried != 1 || st.Notifications.Messages != 1 || st.Notifications.SkippedOnline != 2 {
		t.Fatalf("notifier counters: %+v", st.Notifications)
	}
	if s := opsStream(st, streams.NotificationsStream); s.Messages != 1 {
		t.Fatalf("NOTIFICATIONS holds %d events, want 1", s.Messages)
	}
	mu.Lock()
	defer mu.Unlock()
	if !failed[msg.ID] {
		t.Fatal("the injected failure never ran")
	}
}

// A message whose notification job fails every attempt is terminated after
// the bound, counted as dead and kept as a dead letter; the queue moves on.
func TestNotifyJobDeadAfterBound(t *testing.T) {
	env := opsStart(t, func(c *node.Config) {
		c.NotifyMaxAttempts = 3
		c.NotifyAfterAppend = func(string) error { return errors.New("injected: the job always fails") }
	})
	alice := env.Token("alice")
	conv := opsGroup(t, env, alice, "bob")
	msg := opsSend(t, env, alice, conv, "doomed")

	var page notify.DeadLetterPage
	testkit.WaitFor(t, opsWait, "the notification job's dead letter", func() bool {
		env.MustDo(http.StatusOK, "GET", "/api/ops/dead-letters", opsToken(t), nil, &page)
		return len(page.DeadLetters) == 1
	})
	d := page.DeadLetters[0]
	if d.Kind != notify.DeadNotification || d.Ref != msg.ID || d.Attempts != 3 || !strings.Contains(d.LastError, "always fails") {
		t.Fatalf("dead letter: %+v", d)
	}
	st := opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	n := st.Notifications
	if n.Dead != 1 || n.Queue.Dead != 1 || n.Queue.Retried != 2 || n.Failed != 3 || n.Messages != 0 || n.DeadLetters != 1 {
		t.Fatalf("counters: %+v", n)
	}
	if c, _ := opsConsumer(st, streams.StreamName, streams.NotifyConsumer); c.AckPending != 0 || c.Redelivered != 0 {
		t.Fatalf("the terminated job is still in flight: %+v", c)
	}
}
