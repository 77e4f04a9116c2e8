package e2e_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"parley/engine"
	"parley/internal/node"
)

// TestRealtimeProtocol checks the Pusher protocol 7 handshake, ping/pong,
// errors for a bad key, version or message, and the message size limit.
func TestRealtimeProtocol(t *testing.T) {
	env := rtStart(t)

	s := rtDial(t, env)
	s.send("pusher:ping", "", map[string]any{})
	s.next("pusher:pong")

	s.sendRaw([]byte(`not json`))
	var perr struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	s.next("pusher:error").decode(t, &perr)
	if perr.Code != 4200 {
		t.Fatalf("malformed message: code %d, want 4200", perr.Code)
	}
	// Still usable after a malformed message.
	s.send("pusher:ping", "", map[string]any{})
	s.next("pusher:pong")

	// Data may also come as a JSON-encoded string, as some clients send it.
	s.sendRaw([]byte(`{"event":"pusher:subscribe","data":"{\"channel\":\"lobby\"}"}`))
	s.nextWhere("pusher_internal:subscription_succeeded", func(f rtFrame) bool { return f.Channel == "lobby" })

	s.sendRaw([]byte(`{"event":"pusher:ping","data":{"pad":"` + strings.Repeat("x", 11<<10) + `"}}`))
	if code := s.waitClosed(); code != websocket.StatusMessageTooBig {
		t.Fatalf("oversized message: close %d, want %d", code, websocket.StatusMessageTooBig)
	}

	for _, tc := range []struct {
		name, path string
		code       int
	}{
		{"unknown key", "/app/nope?protocol=7", 4001},
		{"no protocol", "/app/" + rtKey, 4008},
		{"old protocol", "/app/" + rtKey + "?protocol=4", 4007},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := rtDialRaw(t, env, tc.path, nil)
			var perr struct {
				Code int `json:"code"`
			}
			s.next("pusher:error").decode(t, &perr)
			if perr.Code != tc.code {
				t.Fatalf("pusher:error code %d, want %d", perr.Code, tc.code)
			}
			if code := s.waitClosed(); int(code) != tc.code {
				t.Fatalf("close code %d, want %d", code, tc.code)
			}
		})
	}
}

// TestRealtimeOrigin checks the Origin allow-list: the same host and
// localhost by default, configured origins otherwise.
func TestRealtimeOrigin(t *testing.T) {
	env := rtStart(t, func(c *node.Config) { c.AllowedOrigins = "https://app.example.com, *.trusted.test" })
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"http://" + "127.0.0.1:1", false}, // localhost is only a default
		{"https://app.example.com", true},
		{"http://app.example.com", false},
		{"https://chat.trusted.test", true},
		{"https://evil.test", false},
	} {
		req, _ := http.NewRequest("GET", env.URL()+"/app/"+rtKey+"?protocol=7", nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := env.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.StatusCode == http.StatusSwitchingProtocols; got != tc.ok {
			t.Errorf("origin %q: status %d, allowed=%v want %v", tc.origin, resp.StatusCode, got, tc.ok)
		}
	}

	def := rtStart(t)
	for origin, ok := range map[string]bool{"http://localhost:3000": true, "http://" + def.Node.Addr(): true, "https://app.example.com": false} {
		h := http.Header{"Origin": {origin}}
		req, _ := http.NewRequest("OPTIONS", def.URL()+"/broadcasting/auth", nil)
		req.Header = h
		resp, err := def.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.StatusCode == http.StatusNoContent && resp.Header.Get("Access-Control-Allow-Origin") == origin; got != ok {
			t.Errorf("default policy, origin %q: status %d, allowed=%v want %v", origin, resp.StatusCode, got, ok)
		}
	}
}

// TestRealtimeAuthMatrix checks who may subscribe to which channel, and that
// the socket verifies signatures.
func TestRealtimeAuthMatrix(t *testing.T) {
	env := rtStart(t)
	alice, bob, carol := env.Token("alice"), env.Token("bob"), env.Token("carol")
	conv := rtConv(t, env, alice, "bob")
	for _, tc := range []struct {
		tok, channel string
		want         int
	}{
		{alice, "private-conversation." + conv, 200},
		{bob, "private-conversation." + conv, 200},
		{carol, "private-conversation." + conv, 403},
		{alice, "presence-conversation." + conv, 200},
		{carol, "presence-conversation." + conv, 403},
		{alice, "private-user.alice", 200},
		{alice, "private-user.bob", 403},
		{carol, "presence-messaging", 200},
		{alice, "private-conversation.01ARZ3NDEKTSV4RRFFQ69G5FAV", 403},
		{alice, "public-lobby", 403},
		{alice, "private-App.Models.User.1", 403},
		{alice, "private-bad channel", 403},
		{"", "presence-messaging", 401},
		{"garbage", "presence-messaging", 401},
	} {
		if got, _ := rtAuth(t, env, tc.tok, "123.456", tc.channel); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.channel, got, tc.want)
		}
	}
	if got, _ := rtAuth(t, env, alice, "not-a-socket", "presence-messaging"); got != http.StatusBadRequest {
		t.Errorf("bad socket id: status %d, want 400", got)
	}
	// JSON bodies work too, and presence answers carry user_info.
	var ans struct {
		Auth        string `json:"auth"`
		ChannelData string `json:"channel_data"`
	}
	env.MustDo(http.StatusOK, "POST", "/broadcasting/auth", alice,
		map[string]string{"socket_id": "1.2", "channel_name": "presence-messaging"}, &ans)
	if !strings.HasPrefix(ans.Auth, rtKey+":") || !strings.Contains(ans.ChannelData, `"user_info":{"id":"alice"`) {
		t.Fatalf("presence auth answer %+v", ans)
	}

	s := rtDial(t, env)
	channel := "private-conversation." + conv
	// A signature for another socket, a tampered channel, or a wrong secret
	// is refused with subscription_error on that channel.
	for name, auth := range map[string]string{
		"other socket":    rtSign("1.1", channel, ""),
		"other channel":   rtSign(s.socketID, "private-user.alice", ""),
		"wrong key":       "otherkey:" + strings.Split(rtSign(s.socketID, channel, ""), ":")[1],
		"no signature":    "",
		"garbled":         "garbled",
		"forged presence": rtSign(s.socketID, channel, `{"user_id":"carol"}`),
	} {
		s.send("pusher:subscribe", "", map[string]string{"channel": channel, "auth": auth})
		var se struct {
			Type   string `json:"type"`
			Status int    `json:"status"`
		}
		s.nextWhere("pusher:subscription_error", func(f rtFrame) bool { return f.Channel == channel }).decode(t, &se)
		if se.Status != 403 {
			t.Errorf("%s: subscription_error status %d, want 403", name, se.Status)
		}
	}
	// Parley authorizes its own conversation channels: a signature without
	// the channel_data naming a participant is refused even when it was
	// made with the app secret (membership is checked at subscribe time).
	s.send("pusher:subscribe", "", map[string]string{"channel": channel, "auth": rtSign(s.socketID, channel, "")})
	s.nextWhere("pusher:subscription_error", func(f rtFrame) bool { return f.Channel == channel })
	// With Parley's own answer it succeeds.
	if status, a := rtAuth(t, env, alice, s.socketID, channel); status != 200 {
		t.Fatalf("alice auth: %d", status)
	} else {
		s.send("pusher:subscribe", "", map[string]string{"channel": channel, "auth": a["auth"], "channel_data": a["channel_data"]})
	}
	s.nextWhere("pusher_internal:subscription_succeeded", func(f rtFrame) bool { return f.Channel == channel })
	// Carol cannot get a signature; a subscription without one is refused.
	s2 := rtDial(t, env)
	if status, _ := rtAuth(t, env, carol, s2.socketID, channel); status != 403 {
		t.Fatalf("carol auth: %d", status)
	}
	s2.send("pusher:subscribe", "", map[string]string{"channel": channel})
	s2.nextWhere("pusher:subscription_error", func(f rtFrame) bool { return f.Channel == channel })
}

// TestRealtimeEventsDelivered checks the events on private-conversation and
// private-user, their names, payloads and seq.
func TestRealtimeEventsDelivered(t *testing.T) {
	env := rtStart(t)
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := rtConv(t, env, alice, "bob")
	convCh, bobCh := "private-conversation."+conv, "private-user.bob"
	sb := rtDial(t, env)
	sb.subscribe(env, bob, convCh)
	sb.subscribe(env, bob, bobCh)

	m := rtSend(t, env, alice, conv, "hello")
	var sent engine.WireEvent
	var msg engine.Message
	f := sb.nextWhere("message.sent", func(f rtFrame) bool { return f.Channel == convCh })
	f.decode(t, &sent)
	f.decode(t, &struct {
		Data *engine.Message `json:"data"`
	}{&msg})
	if sent.Seq != m.Seq || msg.ID != m.ID || msg.Body != "hello" || msg.SenderID != "alice" {
		t.Fatalf("message.sent = %+v / %+v, want seq %d id %s", sent, msg, m.Seq, m.ID)
	}
	var upd engine.ConversationUpdate
	sb.nextWhere("conversation.updated", func(f rtFrame) bool { return f.Channel == bobCh }).decode(t, &upd)
	if upd.Summary.UnreadTotal != 1 || upd.Conversation.UnreadCount != 1 || upd.Seq != m.Seq || upd.Conversation.LastMessage == nil {
		t.Fatalf("conversation.updated = %+v", upd)
	}

	env.MustDo(http.StatusOK, "PATCH", "/api/messages/"+conv+"/"+m.ID, alice, map[string]string{"body": "hello!"}, nil)
	var ed engine.WireEvent
	sb.nextWhere("message.edited", func(f rtFrame) bool { return f.Channel == convCh }).decode(t, &ed)
	if ed.Seq <= m.Seq || !strings.Contains(sb2str(ed.Data), "hello!") {
		t.Fatalf("message.edited = %+v", ed)
	}

	markRead(t, env, bob, conv, m.ID)
	var rd engine.WireEvent
	sb.nextWhere("message.read", func(f rtFrame) bool { return f.Channel == convCh }).decode(t, &rd)
	if rd.ActorID != "bob" || !strings.Contains(sb2str(rd.Data), m.ID) || rd.Seq <= ed.Seq {
		t.Fatalf("message.read = %+v", rd)
	}
	sb.nextWhere("conversation.updated", func(f rtFrame) bool {
		var u engine.ConversationUpdate
		f.decode(t, &u)
		return u.Summary.UnreadTotal == 0 && u.Seq == rd.Seq
	})

	env.MustDo(http.StatusOK, "DELETE", "/api/messages/"+conv+"/"+m.ID, alice, nil, nil)
	sb.nextWhere("message.deleted", func(f rtFrame) bool { return f.Channel == convCh })

	// Membership changes reach the user channel of every participant; a
	// removed participant stops receiving the conversation.
	env.MustDo(http.StatusOK, "POST", "/api/conversations/"+conv+"/participants", alice, map[string]any{"user_ids": []string{"carol"}}, nil)
	sb.nextWhere("participant.added", func(f rtFrame) bool { return f.Channel == convCh })
	sb.nextWhere("conversation.updated", func(f rtFrame) bool {
		var u engine.ConversationUpdate
		f.decode(t, &u)
		return u.Conversation.ParticipantCount == 3
	})
	env.MustDo(http.StatusNoContent, "DELETE", "/api/conversations/"+conv+"/participants/bob", alice, nil, nil)
	sb.nextWhere("conversation.removed", func(f rtFrame) bool { return f.Channel == bobCh })
	sa := rtDial(t, env)
	sa.subscribe(env, alice, convCh)
	rtSend(t, env, alice, conv, "after-bob-left")
	sa.nextWhere("message.sent", func(f rtFrame) bool { return strings.Contains(f.Data, "after-bob-left") })
	sb.noneBeforePong("message.sent")
}

func sb2str(v any) string {
	b, _ := engine.Marshal(v)
	return string(b)
}

// A participant removed after getting a signature cannot subscribe with
// it, and client events on presence-messaging and private-user channels are
// refused.
func TestRealtimeStaleSignatureAndWhisperScope(t *testing.T) {
	env := rtStart(t)
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := rtConv(t, env, alice, "bob", "carol")
	channel := "private-conversation." + conv
	s := rtDial(t, env)
	status, a := rtAuth(t, env, bob, s.socketID, channel)
	if status != 200 {
		t.Fatalf("bob auth: %d", status)
	}
	env.MustDo(http.StatusNoContent, "DELETE", "/api/conversations/"+conv+"/participants/bob", alice, nil, nil)
	s.send("pusher:subscribe", "", map[string]string{"channel": channel, "auth": a["auth"], "channel_data": a["channel_data"]})
	s.nextWhere("pusher:subscription_error", func(f rtFrame) bool { return f.Channel == channel })

	for _, ch := range []string{"presence-messaging", "private-user.bob"} {
		s2 := rtDial(t, env)
		st, sig := rtAuth(t, env, bob, s2.socketID, ch)
		if st != 200 {
			t.Fatalf("auth %s: %d", ch, st)
		}
		s2.send("pusher:subscribe", "", map[string]string{"channel": ch, "auth": sig["auth"], "channel_data": sig["channel_data"]})
		s2.nextWhere("pusher_internal:subscription_succeeded", func(f rtFrame) bool { return f.Channel == ch })
		s2.send("client-spam", ch, map[string]string{"x": "y"})
		s2.nextWhere("pusher:error", func(f rtFrame) bool { return true })
	}
}
