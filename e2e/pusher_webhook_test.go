package e2e_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"parley/internal/node"
	"parley/internal/realtime"
	"parley/internal/testkit"
)

// hookReceiver is a Pusher webhook endpoint that verifies every request's
// key and signature and answers 503 to its first `down` requests.
type hookReceiver struct {
	t    testing.TB
	mu   sync.Mutex
	down int
	seen []realtime.AppHookEvent
	bad  []string
	hits int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	mac := hmac.New(sha256.New, []byte(rtSecret))
	mac.Write(body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hits++
	if h.hits <= h.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if r.Header.Get("X-Pusher-Key") != rtKey || !hmac.Equal([]byte(r.Header.Get("X-Pusher-Signature")), []byte(hex.EncodeToString(mac.Sum(nil)))) {
		h.bad = append(h.bad, string(body))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var b realtime.AppHookBody
	if json.Unmarshal(body, &b) != nil || b.TimeMs == 0 {
		h.bad = append(h.bad, string(body))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.seen = append(h.seen, b.Events...)
}

// has reports whether an event with this name and channel arrived.
func (h *hookReceiver) has(name, channel string) *realtime.AppHookEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.seen {
		if h.seen[i].Name == name && h.seen[i].Channel == channel {
			e := h.seen[i]
			return &e
		}
	}
	return nil
}

// users lists the user ids of the events with this name and channel, in
// the order they arrived.
func (h *hookReceiver) users(name, channel string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, e := range h.seen {
		if e.Name == name && e.Channel == channel {
			out = append(out, e.UserID)
		}
	}
	return out
}

// Pusher-format webhooks reach a receiver that verifies X-Pusher-Key and
// X-Pusher-Signature: channel_occupied, member_added, client_event,
// member_removed and channel_vacated, with a receiver that answers 503 for
// a while first: they arrive once it recovers.
func TestPusherWebhooks(t *testing.T) {
	h := &hookReceiver{t: t, down: 3}
	srv := httptest.NewServer(h)
	defer srv.Close()
	env := rtStart(t, func(c *node.Config) {
		c.AppID, c.AppWebhooks, c.WebhookRetry = rtAppID, srv.URL, 20*time.Millisecond
	})
	s1, s2 := rtDial(t, env), rtDial(t, env)
	rtJoin(t, s1, rtApp, "presence-lobby", 7)
	rtJoin(t, s2, rtApp, "presence-lobby", 8)
	// Webhooks come from the occupancy and presence watchers, which may lag:
	// a channel occupied (a member present) for less than that lag gives
	// neither webhook of the pair, so wait for the first ones before leaving.
	testkit.WaitFor(t, 15*time.Second, "channel_occupied and member_added for 7 and 8", func() bool {
		added := h.users(realtime.HookMemberAdded, "presence-lobby")
		return h.has(realtime.HookChannelOccupied, "presence-lobby") != nil && len(added) >= 2
	})
	s1.send("client-wave", "presence-lobby", map[string]string{"hi": "there"})
	if f := s2.next("client-wave"); f.UserID != "7" {
		t.Errorf("client event on a presence channel carries user_id %q, want 7", f.UserID)
	}
	s1.send("pusher:unsubscribe", "", map[string]string{"channel": "presence-lobby"})
	s2.send("pusher:unsubscribe", "", map[string]string{"channel": "presence-lobby"})
	testkit.WaitFor(t, 15*time.Second, "client_event, member_removed for 7 and 8, channel_vacated", func() bool {
		return h.has(realtime.HookChannelVacated, "presence-lobby") != nil && h.has(realtime.HookClientEvent, "presence-lobby") != nil &&
			len(h.users(realtime.HookMemberRemoved, "presence-lobby")) >= 2
	})
	if ce := h.has(realtime.HookClientEvent, "presence-lobby"); ce.Event != "client-wave" || ce.UserID != "7" || ce.SocketID != s1.socketID || ce.Data != `{"hi":"there"}` {
		t.Errorf("client_event webhook %+v", ce)
	}
	for _, name := range []string{realtime.HookMemberAdded, realtime.HookMemberRemoved} {
		got := h.users(name, "presence-lobby")
		slices.Sort(got)
		if !slices.Equal(got, []string{"7", "8"}) {
			t.Errorf("%s webhooks for users %v, want [7 8] once each", name, got)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bad) > 0 || h.hits <= h.down {
		t.Errorf("receiver: %d requests, %d badly signed: %v", h.hits, len(h.bad), h.bad)
	}
	counts := map[string]int{}
	for _, e := range h.seen {
		counts[e.Name]++
	}
	if counts[realtime.HookChannelOccupied] != 1 || counts[realtime.HookChannelVacated] != 1 || counts[realtime.HookClientEvent] != 1 {
		t.Errorf("webhooks by name %v, want one channel_occupied, channel_vacated and client_event", counts)
	}
}
