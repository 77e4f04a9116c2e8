package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parley/api"
	"parley/internal/node"
	"parley/internal/realtime"
	"parley/internal/testkit"
)

// hookLog is a Pusher webhook endpoint that keeps every event it gets.
type hookLog struct {
	mu     sync.Mutex
	events []realtime.AppHookEvent
}

func (h *hookLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b realtime.AppHookBody
	raw, _ := io.ReadAll(r.Body)
	if json.Unmarshal(raw, &b) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.events = append(h.events, b.Events...)
	h.mu.Unlock()
}

// count is how many events with this name arrived for channel.
func (h *hookLog) count(name, channel string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, e := range h.events {
		if e.Name == name && e.Channel == channel {
			n++
		}
	}
	return n
}

// A node that crashes with a member on an application presence channel
// leaves leases that expire with no node to remove them. The surviving
// nodes both see the expiry; exactly one of them sends member_removed and
// channel_vacated (before, none did).
func TestCrashedNodesLeasesGiveOneWebhookEach(t *testing.T) {
	const (
		appID, key, secret = "crashapp", "crashkey", "crashsecret"
		channel            = "presence-room"
		ttl                = 2 * time.Second
	)
	hooks := &hookLog{}
	srv := httptest.NewServer(hooks)
	defer srv.Close()
	app := func(c *node.Config) {
		c.AppID, c.AppKey, c.AppSecret, c.AppWebhooks = appID, key, secret, srv.URL
		c.PresenceTTL, c.WebhookRetry = ttl, 20*time.Millisecond
	}
	a := testkit.Start(t, app)
	b := testkit.Start(t, app, func(c *node.Config) { c.NATSURL = node.ToolURL(a.Config.DataDir) })
	c := &crashServer{t: t, dir: t.TempDir(), addr: freeAddr(t), args: []string{
		"--nats-url", node.ToolURL(a.Config.DataDir), "--app-id", appID, "--app-key", key, "--app-secret", secret,
		"--app-webhooks", srv.URL, "--presence-ttl", ttl.String()}}
	t.Cleanup(c.kill) // before start: a start that times out leaves no child behind
	c.start()

	// User 5 joins on the node about to crash, which sends the first pair.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+c.addr+"/app/"+key+"?protocol=7", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	var est struct {
		Data string `json:"data"`
	}
	var sock struct {
		SocketID string `json:"socket_id"`
	}
	if _, raw, err := ws.Read(ctx); err != nil || json.Unmarshal(raw, &est) != nil || json.Unmarshal([]byte(est.Data), &sock) != nil {
		t.Fatalf("connection_established: %v", err)
	}
	cd := `{"user_id":"5"}`
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(sock.SocketID + ":" + channel + ":" + cd))
	sub, _ := json.Marshal(map[string]any{"event": "pusher:subscribe", "data": map[string]string{
		"channel": channel, "auth": key + ":" + hex.EncodeToString(mac.Sum(nil)), "channel_data": cd}})
	if err := ws.Write(ctx, websocket.MessageText, sub); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "channel_occupied and member_added from the node about to crash", func() bool {
		return hooks.count(realtime.HookChannelOccupied, channel) == 1 && hooks.count(realtime.HookMemberAdded, channel) == 1
	})
	for _, env := range []*testkit.Env{a, b} {
		testkit.WaitFor(t, 30*time.Second, "both survivors list user 5", func() bool {
			_, n := env.Node.Presence().Members(channel)
			return n == 1
		})
	}

	c.kill()
	testkit.WaitFor(t, 30*time.Second, "member_removed and channel_vacated after the leases expired", func() bool {
		return hooks.count(realtime.HookMemberRemoved, channel) >= 1 && hooks.count(realtime.HookChannelVacated, channel) >= 1
	})
	// Both survivors have applied the expiry (each offered the webhooks for
	// a claim), and between them they enqueued exactly the two.
	ops := func(env *testkit.Env) uint64 {
		tok, err := api.MintToken([]byte(testkit.Secret), "ops", "ops", true, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		var st api.OpsStats
		env.MustDo(http.StatusOK, "GET", "/api/ops/stats", tok, nil, &st)
		if st.AppWebhooks.ExpiredDropped != 0 {
			t.Errorf("%d webhooks of expired leases dropped", st.AppWebhooks.ExpiredDropped)
		}
		return st.AppWebhooks.Enqueued
	}
	for _, env := range []*testkit.Env{a, b} {
		testkit.WaitFor(t, 30*time.Second, "both survivors drop user 5", func() bool {
			_, n := env.Node.Presence().Members(channel)
			return n == 0
		})
	}
	if n := ops(a) + ops(b); n != 2 {
		t.Errorf("the survivors enqueued %d app webhooks, want 2 (member_removed and channel_vacated, once)", n)
	}
	if r, v := hooks.count(realtime.HookMemberRemoved, channel), hooks.count(realtime.HookChannelVacated, channel); r != 1 || v != 1 {
		t.Errorf("%d member_removed and %d channel_vacated webhooks, want one each", r, v)
	}
}
