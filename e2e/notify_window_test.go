package e2e_test

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"parley/engine"
	"parley/internal/node"
	"parley/internal/notify"
	"parley/internal/testkit"
	"parley/streams"
)

// notifyWindowStart starts a realtime node with the ops test settings.
func notifyWindowStart(t *testing.T, opts ...func(*node.Config)) *testkit.Env {
	t.Helper()
	return rtStart(t, append([]func(*node.Config){func(c *node.Config) {
		c.NotifyRetry, c.WebhookRetry = 20*time.Millisecond, 20*time.Millisecond
		c.NodeName = "test-node"
	}}, opts...)...)
}

// wantWindow checks a notification against the messages of its window.
func wantWindow(t *testing.T, who string, n notify.Notification, first, last engine.Message, count int64) {
	t.Helper()
	if n.MessageID != first.ID || n.LastMessageID != last.ID || n.Count != count || n.Preview != last.Body ||
		n.SenderID != last.SenderID || n.UpdatedAt != last.CreatedAt {
		t.Fatalf("%s's notification %+v: want first %s, last %s (%q), count %d", who, n, first.ID, last.ID, last.Body, count)
	}
}

// A 1,000-member conversation: N messages within the window make exactly
// one notification event per offline recipient, not one per message, even
// though every job fails once after its appends and is redelivered; every
// offline recipient's notification counts the N messages. A member who goes
// offline in the middle of the others' windows is notified by the next
// message; one who reads gets a second notification from the next message.
func TestNotifyBigRoomOnceEventPerRecipientPerWindow(t *testing.T) {
	var mu sync.Mutex
	failed := map[string]bool{}
	env := notifyWindowStart(t, func(c *node.Config) {
		c.NotifyWindow = time.Hour
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
	alice := env.Token("alice")
	others := make([]string, 999)
	for i := range others {
		others[i] = fmt.Sprintf("member-%04d", i)
	}
	conv := opsGroup(t, env, alice, others...)
	online, reader := others[0], others[1]
	offline := others[1:] // 998

	sock := rtDial(t, env)
	sock.subscribe(env, env.Token(online), "presence-messaging")
	testkit.WaitFor(t, opsWait, online+" online", func() bool {
		st := opsGetStats(t, env)
		return st.Presence != nil && st.Presence.OnlineUsers == 1
	})

	// The first message's job opens the windows before the others run
	// (jobs run in parallel: an earlier message whose job runs after a
	// later one's makes its own events, which move the windows' start back;
	// TestNotificationWindowStartMovesBack). The other four are sent at once.
	const n = 5
	msgs := []engine.Message{opsSend(t, env, alice, conv, "message 1 to the big room")}
	opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	for i := 1; i < n; i++ {
		msgs = append(msgs, opsSend(t, env, alice, conv, fmt.Sprintf("message %d to the big room", i+1)))
	}
	st := opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	if s := opsStream(st, streams.NotificationsStream); s.Messages != uint64(len(offline)) {
		t.Fatalf("NOTIFICATIONS holds %d events after %d messages, want %d: one per offline recipient", s.Messages, n, len(offline))
	}
	// Every job ran twice. The first attempt of the first message opened
	// the windows; every other attempt found them open.
	if ns := st.Notifications; ns.Messages != n || ns.Queue.Retried != n || ns.Created != uint64(len(offline)) ||
		ns.SkippedOnline != 2*n || ns.InWindow != uint64(len(offline)*(2*n-1)) {
		t.Fatalf("notifier counters: %+v", ns)
	}
	testkit.WaitFor(t, opsWait, "the notifications projection at the stream's end", func() bool {
		return opsProjection(opsGetStats(t, env), "notifications").Lag == 0
	})
	for _, u := range offline {
		p := opsNotifications(t, env, env.Token(u), "")
		if len(p.Notifications) != 1 || p.UnreadCount != 1 {
			t.Fatalf("%s: %+v", u, p)
		}
		wantWindow(t, u, p.Notifications[0], msgs[0], msgs[n-1], n)
	}
	if p := opsNotifications(t, env, env.Token(online), ""); len(p.Notifications) != 0 {
		t.Fatalf("%s was online and got %+v", online, p)
	}

	// The online member goes offline: the next message notifies them (one
	// event), and only them.
	if err := sock.conn.Close(1000, "bye"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, opsWait, online+" offline", func() bool { return opsGetStats(t, env).Presence.OnlineUsers == 0 })
	msgs = append(msgs, opsSend(t, env, alice, conv, "message 6, everyone offline"))
	st = opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	if s := opsStream(st, streams.NotificationsStream); s.Messages != uint64(len(offline)+1) {
		t.Fatalf("NOTIFICATIONS holds %d events, want %d", s.Messages, len(offline)+1)
	}
	p := opsWaitNotifications(t, env, env.Token(online), 1)
	wantWindow(t, online, p.Notifications[0], msgs[5], msgs[5], 1)

	// A reader closes their window; the next message opens their second
	// notification (one event), and the first keeps its six messages.
	env.MustDo(http.StatusOK, "POST", "/api/notifications/read", env.Token(reader), map[string]any{"all": true}, nil)
	msgs = append(msgs, opsSend(t, env, alice, conv, "message 7"))
	st = opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	if s := opsStream(st, streams.NotificationsStream); s.Messages != uint64(len(offline)+3) { // + the read
		t.Fatalf("NOTIFICATIONS holds %d events, want %d", s.Messages, len(offline)+3)
	}
	p = opsWaitNotifications(t, env, env.Token(reader), 2)
	if p.UnreadCount != 1 || p.Notifications[1].ReadAt == nil {
		t.Fatalf("%s after reading: %+v", reader, p)
	}
	wantWindow(t, reader, p.Notifications[0], msgs[6], msgs[6], 1)
	wantWindow(t, reader, p.Notifications[1], msgs[0], msgs[5], 6)
	for _, u := range []string{online, others[2], others[998]} {
		p := opsNotifications(t, env, env.Token(u), "")
		if len(p.Notifications) != 1 || p.Notifications[0].Count != map[bool]int64{true: 2, false: 7}[u == online] {
			t.Fatalf("%s: %+v", u, p)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failed) != len(msgs) {
		t.Fatalf("the injected failure ran for %d of %d messages", len(failed), len(msgs))
	}
}

// A window ends by time: the first message after it opens a second
// notification (a second event), and each notification counts the
// messages of its own window, judged by the messages' times.
func TestNotifyWindowEndOpensSecondNotification(t *testing.T) {
	const window = 2 * time.Second
	env := notifyWindowStart(t, func(c *node.Config) { c.NotifyWindow = window })
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := opsGroup(t, env, alice, "bob")
	first := opsSend(t, env, alice, conv, "one")
	// The first message's job opens the window before the second's runs
	// (jobs run in parallel; see TestNotificationWindowStartMovesBack for
	// the other order).
	opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	second := opsSend(t, env, alice, conv, "two")
	opened, err := time.Parse(engine.TimeFormat, first.CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	secondAt, _ := time.Parse(engine.TimeFormat, second.CreatedAt)
	if !secondAt.Before(opened.Add(window)) {
		t.Skipf("the second send took longer than the window (%v)", secondAt.Sub(opened))
	}
	opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	// Not synchronisation: the rule under test is the passing of the
	// window's time.
	time.Sleep(time.Until(opened.Add(window)))
	third := opsSend(t, env, alice, conv, "three")
	st := opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	if s := opsStream(st, streams.NotificationsStream); s.Messages != 2 {
		t.Fatalf("NOTIFICATIONS holds %d events, want 2 (one per window)", s.Messages)
	}
	p := opsWaitNotifications(t, env, bob, 2)
	wantWindow(t, "bob", p.Notifications[0], third, third, 1)
	wantWindow(t, "bob", p.Notifications[1], first, second, 2)
	if st.Notifications.InWindow != 1 || st.Notifications.Created != 2 {
		t.Fatalf("notifier counters: %+v", st.Notifications)
	}
}

// Webhooks batch like notifications: one delivery per recipient and
// window, whatever the number of messages, carrying when the window ends;
// a read recipient's next message is a second delivery.
func TestWebhookOncePerWindow(t *testing.T) {
	hook := opsHook(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	env := opsStart(t, func(c *node.Config) {
		c.WebhookURL, c.WebhookSecret, c.NotifyWindow = hook.URL, opsHookSecret, time.Hour
	})
	alice := env.Token("alice")
	var others []string
	for i := range 20 {
		others = append(others, fmt.Sprintf("hooked-%02d", i))
	}
	conv := opsGroup(t, env, alice, others...)
	last := opsSend(t, env, alice, conv, "burst 0")
	opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer) // the first message opens the windows
	for i := 1; i < 6; i++ {
		last = opsSend(t, env, alice, conv, fmt.Sprintf("burst %d", i))
	}
	opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	st := opsQueueIdle(t, env, streams.NotificationsStream, streams.WebhookConsumer)
	if w := st.Webhooks; w.Sent != 20 || w.Attempts != 20 || w.Batched != 0 {
		t.Fatalf("webhook counters after 6 messages to 20 offline members: %+v", w)
	}
	calls := hook.snapshot()
	if len(calls) != 20 {
		t.Fatalf("the receiver got %d requests, want 20", len(calls))
	}
	seen := map[string]bool{}
	for _, c := range calls {
		p := opsCheckSignature(t, c)
		ends, err := time.Parse(engine.TimeFormat, p.WindowEndsAt)
		created, err2 := time.Parse(engine.TimeFormat, p.Notification.CreatedAt)
		if err != nil || err2 != nil || ends.Sub(created) != time.Hour || p.Type != notify.NotificationCreated ||
			p.DeliveryID != p.Notification.ID || p.Notification.Count < 1 || seen[p.Notification.UserID] {
			t.Fatalf("payload: %+v", p)
		}
		seen[p.Notification.UserID] = true
	}
	// The list counts all six; the webhook said what there was when the
	// window opened.
	p := opsNotifications(t, env, env.Token(others[0]), "")
	if len(p.Notifications) != 1 || p.Notifications[0].Count != 6 || p.Notifications[0].LastMessageID != last.ID {
		t.Fatalf("%s: %+v", others[0], p)
	}

	env.MustDo(http.StatusOK, "POST", "/api/notifications/read", env.Token(others[0]), map[string]any{"all": true}, nil)
	opsSend(t, env, alice, conv, "after the read")
	opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	st = opsQueueIdle(t, env, streams.NotificationsStream, streams.WebhookConsumer)
	if w := st.Webhooks; w.Sent != 21 {
		t.Fatalf("webhooks after the read: %+v", w)
	}
	calls = hook.snapshot()
	if p := opsCheckSignature(t, calls[len(calls)-1]); p.Notification.UserID != others[0] || p.Notification.Count != 1 {
		t.Fatalf("the second window's webhook: %+v", p)
	}
}

// The notifier knows the windows other nodes open (its projection reports
// every node's notification events to it) and, after a restart, the ones
// its read model holds: a message within such a window appends nothing.
func TestNotifyWindowsOpenedElsewhereAndBeforeARestart(t *testing.T) {
	env := notifyWindowStart(t, func(c *node.Config) { c.NotifyWindow = time.Hour })
	alice, bob, carol := env.Token("alice"), env.Token("bob"), env.Token("carol")
	conv := opsGroup(t, env, alice, "bob", "carol")
	sock := rtDial(t, env)
	sock.subscribe(env, bob, "presence-messaging")
	testkit.WaitFor(t, opsWait, "bob online", func() bool {
		st := opsGetStats(t, env)
		return st.Presence != nil && st.Presence.OnlineUsers == 1
	})
	m0 := opsSend(t, env, alice, conv, "carol's window opens")
	m1 := opsSend(t, env, alice, conv, "bob is online")
	opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)

	// Another node's notifier opens bob's window at m1 (as if bob had been
	// offline there): the very event it would append.
	ctx := t.Context()
	conn, err := streams.Open(ctx, streams.Config{URL: node.ToolURL(env.Config.DataDir), Existing: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	nlog, err := conn.Notifications(ctx, streams.NotificationsConfig{Existing: true})
	if err != nil {
		t.Fatal(err)
	}
	at, err := time.Parse(engine.TimeFormat, m1.CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := engine.NewEvent(notify.NotificationOpened, conv, "alice", at, notify.NotificationOpenedData{
		UserID: "bob", MessageID: m1.ID, MessageSeq: m1.Seq, WindowMillis: time.Hour.Milliseconds()})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := nlog.Append(ctx, ev, notify.NotifyKey(m1.ID, "bob")); err != nil {
		t.Fatal(err)
	}
	opsWaitNotifications(t, env, bob, 1)

	// Bob goes offline; the next message is in his window: nothing appended.
	if err := sock.conn.Close(1000, "bye"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, opsWait, "bob offline", func() bool { return opsGetStats(t, env).Presence.OnlineUsers == 0 })
	m2 := opsSend(t, env, alice, conv, "both offline")
	st := opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	if s := opsStream(st, streams.NotificationsStream); s.Messages != 2 {
		t.Fatalf("NOTIFICATIONS holds %d events, want 2 (carol's window and the other node's for bob)", s.Messages)
	}
	if n := st.Notifications; n.Created != 1 || n.InWindow != 3 {
		t.Fatalf("notifier counters: %+v", n)
	}
	wantWindow(t, "bob", opsNotifications(t, env, bob, "").Notifications[0], m1, m2, 2)

	// After a restart the memory is empty: it loads the open windows from
	// the read model, so the next message appends nothing either.
	env.Restart()
	m3 := opsSend(t, env, alice, conv, "after the restart")
	st = opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	if s := opsStream(st, streams.NotificationsStream); s.Messages != 2 {
		t.Fatalf("NOTIFICATIONS holds %d events after the restart, want 2", s.Messages)
	}
	if n := st.Notifications; n.Created != 0 || n.InWindow != 2 || n.Messages != 1 {
		t.Fatalf("notifier counters after the restart: %+v", n)
	}
	wantWindow(t, "bob", opsNotifications(t, env, bob, "").Notifications[0], m1, m3, 3)
	wantWindow(t, "carol", opsNotifications(t, env, carol, "").Notifications[0], m0, m3, 4)
}
