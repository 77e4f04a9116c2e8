package streams_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"parley/engine"
	"parley/internal/realtime"
	"parley/internal/testkit"
	"parley/streams"
)

// node is one simulated Parley node: its own hub and presence tracker on a
// shared JetStream, as several nodes share one NATS cluster.
type node struct {
	hub      *realtime.Hub
	presence *realtime.Presence
}

func startNode(t *testing.T, ctx context.Context, conn *streams.Conn, ttl time.Duration) *node {
	t.Helper()
	store, err := conn.Presence(ctx, streams.PresenceConfig{TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	hub := realtime.NewHub(realtime.HubConfig{})
	p := realtime.NewPresence(store, hub, realtime.PresenceConfig{TTL: ttl})
	go func() { _ = p.Run(ctx) }()
	select {
	case <-p.Synced():
	case <-time.After(10 * time.Second):
		t.Fatal("presence did not sync")
	}
	stop, err := conn.Relay().Subscribe(hub.Deliver)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return &node{hub: hub, presence: p}
}

func join(t *testing.T, ctx context.Context, n *node, user string) *realtime.Client {
	t.Helper()
	c, err := n.hub.Connect()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.hub.BindUser(c, user); err != nil {
		t.Fatal(err)
	}
	err = n.presence.Join(ctx, c, engine.PresenceMessaging, realtime.Member{UserID: user, Info: json.RawMessage(`{"id":"` + user + `"}`)},
		func([]realtime.Member) *realtime.Frame { return &realtime.Frame{Event: "ack"} })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// expect waits for a frame with the event about user on c.
func expect(t *testing.T, c *realtime.Client, event, user string) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, "a "+event+" for "+user, func() bool {
		for f := c.Next(); f != nil; f = c.Next() {
			var m realtime.Member
			_ = json.Unmarshal(f.Data, &m)
			if f.Event == event && (user == "" || m.UserID == user) {
				return true
			}
		}
		return false
	})
}

// expectBefore waits for a frame with event on c, failing if one with
// forbidden comes first.
func expectBefore(t *testing.T, c *realtime.Client, event, forbidden string) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, "a "+event, func() bool {
		for f := c.Next(); f != nil; f = c.Next() {
			switch f.Event {
			case forbidden:
				t.Fatalf("got %s (%s) before %s", f.Event, f.Data, event)
			case event:
				return true
			}
		}
		return false
	})
}

// TestPresenceAcrossNodes checks that presence and client events are
// shared through JetStream and core NATS: a user joining on one node is
// announced on the other; a node that stops refreshing (a crash) has its
// users expire everywhere; whispers reach the other node.
func TestPresenceAcrossNodes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := streams.Open(ctx, streams.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	defer cancel() // stop the watchers before the connection closes
	n1 := startNode(t, ctx, conn, 2*time.Second)
	crashCtx, crash := context.WithCancel(ctx)
	n2 := startNode(t, crashCtx, conn, 2*time.Second)

	alice := join(t, ctx, n1, "alice")
	expect(t, alice, "ack", "")
	bob := join(t, ctx, n2, "bob")
	expect(t, alice, engine.EventMemberAdded, "bob")
	testkit.WaitFor(t, 10*time.Second, "node 2 to see alice, who joined on node 1", func() bool {
		return n2.presence.Online(engine.PresenceMessaging, "alice")
	})

	// A whisper from node 1 reaches node 2's subscriber, not its sender.
	if err := n2.hub.Subscribe(bob, "private-conversation.x", nil); err != nil {
		t.Fatal(err)
	}
	if err := n1.hub.Subscribe(alice, "private-conversation.x", nil); err != nil {
		t.Fatal(err)
	}
	if err := conn.Relay().Publish(ctx, realtime.ClientEvent{Channel: "private-conversation.x", Event: "client-typing",
		Data: json.RawMessage(`{}`), UserID: "alice", SocketID: alice.ID()}); err != nil {
		t.Fatal(err)
	}
	expect(t, bob, "client-typing", "")
	// A fence published after it, from bob's socket, reaches alice; the
	// relay keeps one publisher's order, so had her own whisper come back
	// to her it would be before the fence.
	if err := conn.Relay().Publish(ctx, realtime.ClientEvent{Channel: "private-conversation.x", Event: "client-fence",
		Data: json.RawMessage(`{}`), UserID: "bob", SocketID: bob.ID()}); err != nil {
		t.Fatal(err)
	}
	expectBefore(t, alice, "client-fence", "client-typing")

	// Node 2 dies without releasing bob: his lease expires, node 1 says so.
	crash()
	expect(t, alice, engine.EventMemberRemoved, "bob")
	if n1.presence.Online(engine.PresenceMessaging, "bob") {
		t.Fatal("bob still online on node 1")
	}
}
