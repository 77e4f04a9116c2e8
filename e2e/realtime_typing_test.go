package e2e_test

import (
	"net/http"
	"testing"

	"parley/internal/node"
)

// TestRealtimeClientEvents checks whispers: relayed to the other
// subscribers (not back to the sender) with the sender's user_id, refused on
// channels the sender is not on and on public channels, rate-limited per
// connection; and the REST typing endpoint for clients without a socket.
func TestRealtimeClientEvents(t *testing.T) {
	env := rtStart(t)
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := rtConv(t, env, alice, "bob")
	ch := "private-conversation." + conv
	sa, sb := rtDial(t, env), rtDial(t, env)
	sa.subscribe(env, alice, ch)
	sb.subscribe(env, bob, ch)

	// Alice claims to be bob in her payload; the server says who she is.
	sa.send("client-typing", ch, map[string]any{"typing": true, "user_id": "bob"})
	f := sb.nextWhere("client-typing", func(f rtFrame) bool { return f.Channel == ch })
	var data struct {
		Typing bool   `json:"typing"`
		UserID string `json:"user_id"`
	}
	f.decode(t, &data)
	if !data.Typing || data.UserID != "alice" || f.UserID != "alice" {
		t.Fatalf("client-typing = %+v (frame user_id %q)", data, f.UserID)
	}
	sa.noneBeforePong("client-typing")

	var perr struct {
		Code int `json:"code"`
	}
	sa.send("client-typing", "private-user.bob", map[string]any{})
	sa.next("pusher:error").decode(t, &perr)
	if perr.Code != 4009 {
		t.Fatalf("whisper on an unsubscribed channel: code %d, want 4009", perr.Code)
	}
	sa.send("pusher:subscribe", "", map[string]string{"channel": "lobby"})
	sa.nextWhere("pusher_internal:subscription_succeeded", func(f rtFrame) bool { return f.Channel == "lobby" })
	sa.send("client-typing", "lobby", map[string]any{})
	sa.next("pusher:error").decode(t, &perr)
	if perr.Code != 4009 {
		t.Fatalf("whisper on a public channel: code %d, want 4009", perr.Code)
	}

	// Ten per second with a burst of ten: the burst after the first one
	// sent above is refused with 4301 before the bucket refills.
	limited := false
	for i := 0; i < 30 && !limited; i++ {
		sa.send("client-typing", ch, map[string]any{"n": i})
		sa.send("pusher:ping", "", map[string]any{})
		for {
			f := sa.nextWhere("", func(rtFrame) bool { return true })
			if f.Event == "pusher:pong" {
				break
			}
			if f.Event == "pusher:error" {
				f.decode(t, &perr)
				limited = perr.Code == 4301
			}
		}
	}
	if !limited {
		t.Fatal("30 whispers in a row were never rate-limited")
	}

	// REST typing reaches socket subscribers as the same event.
	env.MustDo(http.StatusAccepted, "POST", "/api/messages/"+conv+"/typing", bob, nil, nil)
	f = sa.nextWhere("client-typing", func(f rtFrame) bool { return f.UserID == "bob" })
	f.decode(t, &data)
	if data.UserID != "bob" || !data.Typing {
		t.Fatalf("REST typing = %+v", data)
	}
	if r := env.Do("POST", "/api/messages/"+conv+"/typing", env.Token("carol"), nil); r.Status != http.StatusNotFound {
		t.Fatalf("typing by a non-participant: %d, want 404", r.Status)
	}
}

// TestRealtimeDisabled checks --realtime=false: no WebSocket, SSE or
// presence; /api/config says so; delta still works.
func TestRealtimeDisabled(t *testing.T) {
	env := rtStart(t, func(c *node.Config) { c.Realtime = false })
	var cfg struct {
		Realtime   bool     `json:"realtime"`
		Transports []string `json:"transports"`
		Key        string   `json:"key"`
	}
	env.MustDo(http.StatusOK, "GET", "/api/config", "", nil, &cfg)
	if cfg.Realtime || cfg.Key != "" || len(cfg.Transports) != 1 || cfg.Transports[0] != "poll" {
		t.Fatalf("config with realtime off: %+v", cfg)
	}
	alice := env.Token("alice")
	conv := rtConv(t, env, alice, "bob")
	for _, r := range []struct{ method, path string }{
		{"GET", "/app/" + rtKey + "?protocol=7"},
		{"GET", "/api/stream"},
		{"POST", "/broadcasting/auth"},
		{"POST", "/api/messages/presence/heartbeat"},
		{"POST", "/api/messages/" + conv + "/typing"},
	} {
		if resp := env.Do(r.method, r.path, alice, nil); resp.Status != http.StatusServiceUnavailable || resp.ErrorCode() != "realtime_disabled" {
			t.Errorf("%s %s: %d %s, want 503 realtime_disabled", r.method, r.path, resp.Status, resp.ErrorCode())
		}
	}
	m := rtSend(t, env, alice, conv, "polled")
	var d struct {
		Events []struct {
			Seq uint64 `json:"seq"`
		} `json:"events"`
	}
	env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv+"/delta?after_seq=0", env.Token("bob"), nil, &d)
	if len(d.Events) == 0 || d.Events[len(d.Events)-1].Seq != m.Seq {
		t.Fatalf("delta with realtime off: %+v", d)
	}
}

// TestRealtimeConfig checks what /api/config tells an Echo client.
func TestRealtimeConfig(t *testing.T) {
	env := rtStart(t)
	rtConv(t, env, env.Token("alice"), "bob") // the projector is up before the node closes
	var cfg struct {
		Realtime     bool     `json:"realtime"`
		Transports   []string `json:"transports"`
		Key          string   `json:"key"`
		WSHost       string   `json:"wsHost"`
		WSPort       int      `json:"wsPort"`
		ForceTLS     bool     `json:"forceTLS"`
		AuthEndpoint string   `json:"authEndpoint"`
	}
	env.MustDo(http.StatusOK, "GET", "/api/config", "", nil, &cfg)
	if !cfg.Realtime || cfg.Key != rtKey || cfg.WSHost != "127.0.0.1" || cfg.WSPort == 0 || cfg.ForceTLS ||
		cfg.AuthEndpoint != env.URL()+"/broadcasting/auth" || len(cfg.Transports) != 3 {
		t.Fatalf("config: %+v", cfg)
	}
}
