package e2e_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parley/api"
	"parley/internal/node"
	"parley/internal/notify"
	"parley/internal/testkit"
	"parley/streams"
)

const opsHookSecret = "webhook-test-secret"

// opsHookCall is one request the test webhook server received.
type opsHookCall struct {
	header http.Header
	body   []byte
}

// opsHookServer is a local webhook receiver whose answers the test scripts.
type opsHookServer struct {
	*httptest.Server
	mu    sync.Mutex
	calls []opsHookCall
}

// opsHook starts a receiver; answer decides each attempt's status (n is
// 1-based).
func opsHook(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *opsHookServer {
	t.Helper()
	h := &opsHookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.calls = append(h.calls, opsHookCall{header: r.Header.Clone(), body: body})
		n := len(h.calls)
		h.mu.Unlock()
		answer(n, w, r)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *opsHookServer) snapshot() []opsHookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]opsHookCall(nil), h.calls...)
}

// opsCheckSignature verifies a webhook request the way a receiver would, by
// the documented scheme: X-Parley-Signature is "sha256=" and the hex
// HMAC-SHA256, keyed with the secret, of the X-Parley-Timestamp value, "."
// and the body.
func opsCheckSignature(t *testing.T, c opsHookCall) notify.WebhookPayload {
	t.Helper()
	tsHeader := c.header.Get("X-Parley-Timestamp")
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
		t.Fatalf("bad timestamp header %q", tsHeader)
	}
	sign := func(secret string) string {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(tsHeader + "." + string(c.body)))
		return "sha256=" + hex.EncodeToString(mac.Sum(nil))
	}
	got := c.header.Get("X-Parley-Signature")
	if want := sign(opsHookSecret); !hmac.Equal([]byte(got), []byte(want)) {
		t.Fatalf("signature %q, want %q", got, want)
	}
	if hmac.Equal([]byte(got), []byte(sign("another secret"))) {
		t.Fatal("the signature does not depend on the secret")
	}
	var p notify.WebhookPayload
	if err := json.Unmarshal(c.body, &p); err != nil {
		t.Fatalf("payload %s: %v", c.body, err)
	}
	return p
}

func opsWebhookNode(t *testing.T, url string, attempts int, timeout time.Duration) *testkit.Env {
	return opsStart(t, func(c *node.Config) {
		c.WebhookURL, c.WebhookSecret, c.WebhookMaxAttempts, c.WebhookTimeout = url, opsHookSecret, attempts, timeout
	})
}

// A receiver that fails the first two attempts gets the notification a
// third time, signed each time, and the counters say so.
func TestWebhookRetriesUntilDelivered(t *testing.T) {
	hook := opsHook(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			http.Error(w, "not yet", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	env := opsWebhookNode(t, hook.URL, 5, 5*time.Second)
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := opsGroup(t, env, alice, "bob")
	msg := opsSend(t, env, alice, conv, "ping")

	var st = opsGetStats(t, env)
	testkit.WaitFor(t, opsWait, "webhook delivered", func() bool {
		st = opsGetStats(t, env)
		return st.Webhooks.Sent == 1 && st.Webhooks.Queue.Acked == 1 // the ack follows the send
	})
	calls := hook.snapshot()
	if len(calls) != 3 {
		t.Fatalf("the receiver got %d requests, want 3", len(calls))
	}
	note := opsNotifications(t, env, bob, "").Notifications[0]
	for i, c := range calls {
		p := opsCheckSignature(t, c)
		if p.Type != notify.NotificationCreated || p.DeliveryID != note.ID || p.Attempt != i+1 ||
			p.Notification.MessageID != msg.ID || p.Notification.UserID != "bob" || p.Notification.Preview != "ping" {
			t.Fatalf("attempt %d payload: %+v", i+1, p)
		}
		if c.header.Get(notify.WebhookDeliveryHeader) != note.ID || c.header.Get(notify.WebhookAttemptHeader) != strconv.Itoa(i+1) ||
			c.header.Get("Content-Type") != "application/json" {
			t.Fatalf("attempt %d headers: %v", i+1, c.header)
		}
	}
	w := st.Webhooks
	if !w.Enabled || w.Attempts != 3 || w.Failed != 2 || w.Sent != 1 || w.Dead != 0 || w.Queue.Retried != 2 || w.Queue.Acked != 1 {
		t.Fatalf("webhook counters: %+v", w)
	}
	if st.Notifications.DeadLetters != 0 {
		t.Fatalf("dead letters: %d", st.Notifications.DeadLetters)
	}
}

// A receiver that never answers in time: every attempt times out, and the
// notification is parked as a dead letter after the bound with its last
// error; the messages sent meanwhile join that notification's window and
// make no notification event, so no further delivery.
func TestWebhookDeadLetteredAfterBound(t *testing.T) {
	release := make(chan struct{})
	hook := opsHook(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	env := opsWebhookNode(t, hook.URL, 3, 200*time.Millisecond)
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := opsGroup(t, env, alice, "bob")
	first := time.Now()
	opsSend(t, env, alice, conv, "are you there?")
	testkit.WaitFor(t, opsWait, "the first webhook attempt", func() bool { return len(hook.snapshot()) >= 1 })
	for i := range 5 {
		opsSend(t, env, alice, conv, "still there? "+strconv.Itoa(i))
	}

	var page notify.DeadLetterPage
	testkit.WaitFor(t, opsWait, "a dead letter", func() bool {
		env.MustDo(http.StatusOK, "GET", "/api/ops/dead-letters", opsToken(t), nil, &page)
		return len(page.DeadLetters) == 1
	})
	note := opsNotifications(t, env, bob, "").Notifications[0]
	d := page.DeadLetters[0]
	if d.Kind != notify.DeadWebhook || d.Ref != note.ID || d.UserID != "bob" || d.Attempts != 3 || !strings.Contains(d.LastError, "timeout") {
		t.Fatalf("dead letter: %+v", d)
	}
	if n := len(hook.snapshot()); n != 3 {
		t.Fatalf("the receiver got %d attempts, want 3 (the later messages batched into the first notification)", n)
	}
	// The later messages made no notification events at all: the stream
	// holds the one notification and its dead letter.
	opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	var st api.OpsStats
	testkit.WaitFor(t, opsWait, "every notification event handled", func() bool {
		st = opsGetStats(t, env)
		c, _ := opsConsumer(st, streams.NotificationsStream, streams.WebhookConsumer)
		return st.Webhooks.Dead == 1 && c.Pending == 0 && c.AckPending == 0
	})
	if w := st.Webhooks; w.Dead != 1 || w.Attempts != 3 || w.Failed != 3 || w.Sent != 0 || w.Batched != 0 || st.Notifications.DeadLetters != 1 {
		t.Fatalf("counters: %+v, dead letters %d", w, st.Notifications.DeadLetters)
	}
	if s := opsStream(st, streams.NotificationsStream); s.Messages != 2 {
		t.Fatalf("NOTIFICATIONS holds %d events, want 2 (the notification and its dead letter)", s.Messages)
	}
	if note = opsNotifications(t, env, bob, "").Notifications[0]; note.Count != 6 {
		t.Fatalf("the notification counts %d messages, want 6: %+v", note.Count, note)
	}
	if r := env.Do("GET", "/api/ops/dead-letters", env.Token("bob"), nil); r.Status != http.StatusForbidden {
		t.Fatalf("a user token read the dead letters: %d", r.Status)
	}
	t.Logf("dead-lettered %v after the first send", time.Since(first).Round(time.Millisecond))
}

// Sends are not held up by a webhook receiver that hangs: while the
// receiver holds the first attempt (far longer than a send may take: the
// attempt's timeout is a minute, the test client's 30 s), further sends
// all answer, and only then does the receiver answer.
func TestWebhookHangingReceiverDoesNotBlockSends(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	releaseHook := func() { once.Do(func() { close(release) }) }
	var answered atomic.Int32 // attempts the receiver has answered
	hook := opsHook(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		defer answered.Add(1)
		select {
		case <-release:
			w.WriteHeader(http.StatusNoContent)
		case <-r.Context().Done():
		}
	})
	t.Cleanup(releaseHook) // before the receiver closes
	env := opsWebhookNode(t, hook.URL, 1, time.Minute)
	alice := env.Token("alice")
	conv := opsGroup(t, env, alice, "bob")
	opsSend(t, env, alice, conv, "are you there?")
	testkit.WaitFor(t, opsWait, "the first webhook attempt", func() bool { return len(hook.snapshot()) == 1 })
	for i := range 5 {
		opsSend(t, env, alice, conv, "still there? "+strconv.Itoa(i))
	}
	if n := answered.Load(); n != 0 {
		t.Fatalf("the receiver answered %d attempts before the sends returned, want them all to return while it hangs", n)
	}
	releaseHook()
	testkit.WaitFor(t, opsWait, "the webhook delivered", func() bool { return opsGetStats(t, env).Webhooks.Sent == 1 })
	if n := answered.Load(); n != 1 {
		t.Fatalf("the receiver answered %d attempts, want 1", n)
	}
}
