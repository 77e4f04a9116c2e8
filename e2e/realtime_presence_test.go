package e2e_test

import (
	"net/http"
	"testing"
	"time"

	"parley/internal/node"
	"parley/internal/testkit"
)

// rtPresence is the presence data of a subscription_succeeded frame.
type rtPresence struct {
	Presence struct {
		IDs   []string                  `json:"ids"`
		Hash  map[string]map[string]any `json:"hash"`
		Count int                       `json:"count"`
	} `json:"presence"`
}

type rtMember struct {
	UserID   string         `json:"user_id"`
	UserInfo map[string]any `json:"user_info"`
}

func rtMemberEvent(t *testing.T, s *rtSocket, event, channel, user string) rtMember {
	t.Helper()
	var m rtMember
	s.nextWhere(event, func(f rtFrame) bool {
		f.decode(t, &m)
		return f.Channel == channel && m.UserID == user
	})
	return m
}

// TestRealtimePresence checks presence-messaging and presence-conversation:
// members on subscribe, member_added/member_removed, several tabs as one
// member, and a REST heartbeat that expires into member_removed with no
// further request. presence-messaging shows a user their contacts (who
// shares a conversation with them): alice and bob share one, bob and carol
// another.
func TestRealtimePresence(t *testing.T) {
	env := rtStart(t, func(c *node.Config) { c.PresenceTTL = 2 * time.Second })
	alice, bob := env.Token("alice"), env.Token("bob")
	const ch = "presence-messaging"
	conv := rtConv(t, env, alice, "bob")
	rtConv(t, env, bob, "carol")

	a1 := rtDial(t, env)
	var p rtPresence
	a1.subscribe(env, alice, ch).decode(t, &p)
	if p.Presence.Count != 1 || p.Presence.IDs[0] != "alice" || p.Presence.Hash["alice"]["name"] != "alice" {
		t.Fatalf("first member sees %+v", p)
	}
	b1 := rtDial(t, env)
	b1.subscribe(env, bob, ch).decode(t, &p)
	if p.Presence.Count != 2 || p.Presence.Hash["alice"] == nil || p.Presence.Hash["bob"] == nil {
		t.Fatalf("second member sees %+v", p)
	}
	if m := rtMemberEvent(t, a1, "pusher_internal:member_added", ch, "bob"); m.UserInfo["id"] != "bob" {
		t.Fatalf("member_added carries %+v", m)
	}
	b1.noneBeforePong("pusher_internal:member_added") // not about oneself

	// A second tab is the same member: no member_added, and closing one of
	// two tabs removes nobody.
	a2 := rtDial(t, env)
	a2.subscribe(env, alice, ch)
	b1.noneBeforePong("pusher_internal:member_added")
	rtCloseAndWait(t, env, a1, 3)
	b1.noneBeforePong("pusher_internal:member_removed")
	_ = a2.conn.CloseNow()
	rtMemberEvent(t, b1, "pusher_internal:member_removed", ch, "alice")

	// A heartbeat keeps carol online for one TTL, then she goes offline by
	// herself.
	var hb struct {
		Online     bool `json:"online"`
		TTLSeconds int  `json:"ttl_seconds"`
	}
	env.MustDo(http.StatusOK, "POST", "/api/messages/presence/heartbeat", env.Token("carol"), nil, &hb)
	if !hb.Online || hb.TTLSeconds != 2 {
		t.Fatalf("heartbeat answer %+v", hb)
	}
	rtMemberEvent(t, b1, "pusher_internal:member_added", ch, "carol")
	start := time.Now()
	rtMemberEvent(t, b1, "pusher_internal:member_removed", ch, "carol")
	if took := time.Since(start); took < time.Second {
		t.Fatalf("carol went offline after %v, before her 2s TTL", took)
	}

	// Viewing a room: socket or heartbeat with conversation_id; only
	// participants.
	room := "presence-conversation." + conv
	b1.subscribe(env, bob, room)
	env.MustDo(http.StatusOK, "POST", "/api/messages/presence/heartbeat", alice, map[string]string{"conversation_id": conv}, nil)
	rtMemberEvent(t, b1, "pusher_internal:member_added", room, "alice")
	if r := env.Do("POST", "/api/messages/presence/heartbeat", env.Token("carol"), map[string]string{"conversation_id": conv}); r.Status != http.StatusNotFound {
		t.Fatalf("heartbeat into someone else's conversation: %d, want 404", r.Status)
	}
}

// rtCloseAndWait closes a socket and waits until the node has released it
// (the hub holds `left` connections).
func rtCloseAndWait(t *testing.T, env *testkit.Env, s *rtSocket, left int) {
	t.Helper()
	_ = s.conn.CloseNow()
	testkit.WaitFor(t, rtWait, "the node to release the socket", func() bool {
		return env.Node.Hub().Stats().Connections <= left
	})
}

// TestRealtimeTimeouts checks the server's ping with its pong deadline
// (4201) and the pruning of sockets that never subscribe (4202).
func TestRealtimeTimeouts(t *testing.T) {
	env := rtStart(t, func(c *node.Config) {
		c.WSActivityTimeout, c.WSPongTimeout, c.WSIdleTimeout = time.Second, time.Second, 1500*time.Millisecond
	})
	idle := rtDial(t, env)
	silent := rtDial(t, env)
	silent.send("pusher:subscribe", "", map[string]string{"channel": "lobby"})
	alive := rtDial(t, env)
	alive.send("pusher:subscribe", "", map[string]string{"channel": "lobby"})

	// Answering pings keeps a socket open past several pong deadlines,
	// while the others are closed meanwhile.
	for i := 0; i < 3; i++ {
		alive.next("pusher:ping")
		alive.send("pusher:pong", "", map[string]any{})
	}
	silent.next("pusher:ping")
	if code := silent.waitClosed(); code != 4201 {
		t.Fatalf("a socket that ignores pings: close %d, want 4201", code)
	}
	if code := idle.waitClosed(); code != 4202 {
		t.Fatalf("a socket without subscriptions: close %d, want 4202", code)
	}
}
