package api_test

import (
	"context"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parley/internal/node"
	"parley/internal/testkit"
)

// wsGoroutines counts the goroutines running a socket's server side
// (reading, handling, writing).
func wsGoroutines(t *testing.T) int {
	t.Helper()
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range strings.Split(b.String(), "\n\n") {
		if strings.Contains(g, "parley/api.(*wsConn)") {
			n++
		}
	}
	return n
}

// TestRealtimeIdleSocketsHoldNoGoroutine checks that on Linux an idle,
// subscribed socket holds no goroutine (the poller waits for its client),
// and that a parked socket is woken by what its client sends.
func TestRealtimeIdleSocketsHoldNoGoroutine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the socket poller is Linux's epoll; elsewhere each socket keeps a reader goroutine")
	}
	env := rtStart(t)
	alice := env.Token("alice")
	conv := rtConv(t, env, alice, "bob")
	const n = 20
	socks := make([]*rtSocket, n)
	for i := range socks {
		socks[i] = rtDial(t, env)
		socks[i].subscribe(env, alice, "private-conversation."+conv)
	}
	testkit.WaitFor(t, rtWait, "the idle sockets to hold no goroutine", func() bool {
		return wsGoroutines(t) == 0
	})
	// Parked sockets still hear their clients: a ping is answered.
	for _, s := range socks {
		s.send("pusher:ping", "", map[string]any{})
	}
	for _, s := range socks {
		s.next("pusher:pong")
	}
}

// TestRealtimeUnansweredCloseIsDropped checks that a socket whose client
// never answers the server's close (here a 4201 after an unanswered ping)
// is dropped within wsCloseWait, although no goroutine waits on it.
func TestRealtimeUnansweredCloseIsDropped(t *testing.T) {
	env := rtStart(t, func(c *node.Config) {
		c.WSActivityTimeout, c.WSPongTimeout = time.Second, time.Second
	})
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+env.Node.Addr()+"/app/"+rtKey+"?protocol=7", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	if _, _, err := conn.Read(ctx); err != nil { // connection_established; then it stops reading
		t.Fatal(err)
	}
	hub := env.Node.Hub()
	if n := hub.Connections(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
	// Ping after 1 s, 4201 after 1 s more, dropped 5 s after that.
	testkit.WaitFor(t, 20*time.Second, "the socket that never answered the close to be dropped", func() bool {
		return hub.Connections() == 0
	})
}
