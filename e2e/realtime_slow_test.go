package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"parley/internal/node"
	"parley/internal/testkit"
)

// rtDialStalled connects a socket that reads the handshake and its
// subscription, then stops reading, like a client on a dead network, until
// read resumes it.
func rtDialStalled(t *testing.T, env *testkit.Env, tok, channel string) (s *rtSocket, read func()) {
	t.Helper()
	conn := rtConnect(t, env, "/app/"+rtKey+"?protocol=7", nil)
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	s = &rtSocket{t: t, conn: conn, frames: make(chan rtFrame, 100000), closed: make(chan struct{})}
	readOne := func() rtFrame {
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var f rtFrame
		_ = json.Unmarshal(data, &f)
		return f
	}
	var est struct {
		SocketID string `json:"socket_id"`
	}
	readOne().decode(t, &est)
	s.socketID = est.SocketID
	status, auth := rtAuth(t, env, tok, s.socketID, channel)
	if status != http.StatusOK {
		t.Fatalf("auth: %d", status)
	}
	s.send("pusher:subscribe", "", map[string]string{"channel": channel, "auth": auth["auth"], "channel_data": auth["channel_data"]})
	if f := readOne(); f.Event != "pusher_internal:subscription_succeeded" {
		t.Fatalf("subscribe: %+v", f)
	}
	return s, func() { go s.read() }
}

// TestRealtimeSlowConsumer checks that a socket that stops reading is
// disconnected with 4200 once its bounded buffer fills, that the others
// keep receiving meanwhile, and that the node lets go of it.
func TestRealtimeSlowConsumer(t *testing.T) {
	env := rtStart(t, func(c *node.Config) { c.WSBuffer = 8 })
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := rtConv(t, env, alice, "bob")
	ch := "private-conversation." + conv
	fast := rtDial(t, env)
	fast.subscribe(env, alice, ch)
	slow, resume := rtDialStalled(t, env, bob, ch)

	hub := env.Node.Hub()
	body := strings.Repeat("x", 16000)
	sent := 0
	for ; sent < 3000 && hub.Stats().SlowDrops == 0; sent++ {
		env.MustDo(http.StatusCreated, "POST", "/api/messages/"+conv, alice,
			map[string]string{"body": body, "client_temp_id": "big-" + itoa(uint64(sent))}, nil)
	}
	if hub.Stats().SlowDrops == 0 {
		t.Fatalf("%d messages of 16 KB never filled a stalled socket's buffer", sent)
	}
	resume()
	var perr struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	slow.next("pusher:error").decode(t, &perr)
	if perr.Code != 4200 || !strings.Contains(perr.Message, "slow consumer") {
		t.Fatalf("slow consumer told %+v", perr)
	}
	if code := slow.waitClosed(); code != 4200 {
		t.Fatalf("slow consumer closed with %d, want 4200", code)
	}
	// The healthy socket got every message, in order, while bob stalled.
	for i := 0; i < sent; i++ {
		fast.nextWhere("message.sent", func(f rtFrame) bool { return strings.Contains(f.Data, "big-"+itoa(uint64(i))+`"`) })
	}
	testkit.WaitFor(t, rtWait, "the stalled socket to be released", func() bool {
		st := hub.Stats()
		return st.Connections == 1 && st.Users == 1
	})
	t.Logf("stalled socket dropped after %d messages of 16 KB", sent)
}
