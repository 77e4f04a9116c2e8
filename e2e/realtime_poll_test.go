package e2e_test

import (
	"context"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	gws "github.com/gorilla/websocket"

	"parley/internal/node"
	"parley/internal/testkit"
)

// wsGoroutines counts the goroutines running a socket's server side
// (reading, handling, writing): those in a method of the pusher package's
// wsConn. TestRealtimeIdleSocketsHoldNoGoroutine checks it sees one.
func wsGoroutines(t *testing.T) int {
	t.Helper()
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range strings.Split(b.String(), "\n\n") {
		if strings.Contains(g, "parley/internal/pusher.(*wsConn)") {
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
	testkit.WaitFor(t, rtWait, "the sockets of earlier tests to be gone", func() bool {
		return wsGoroutines(t) == 0
	})
	// The count sees a socket's goroutine when there is one: a frame that
	// arrives in part keeps its reader waiting for the rest.
	probe := rtRawDial(t, env)
	testkit.WaitFor(t, rtWait, "the idle probe socket to hold no goroutine", func() bool {
		return wsGoroutines(t) == 0
	})
	frame := maskedText(`{"event":"pusher:ping","data":{}}`)
	if _, err := probe.NetConn().Write(frame[:10]); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, rtWait, "a goroutine reading the rest of the frame", func() bool {
		return wsGoroutines(t) > 0
	})
	if _, err := probe.NetConn().Write(frame[10:]); err != nil {
		t.Fatal(err)
	}
	if _, data, err := probe.ReadMessage(); err != nil || !strings.Contains(string(data), "pusher:pong") {
		t.Fatalf("after the frame's rest: %s %v, want a pong", data, err)
	}

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

// TestRealtimeParkedSocketsKeepUp has many sockets each send a stream of
// pings, one write at a time and all at once, so that pings keep arriving
// while readers park and wake; every ping must get its pong. A wake lost
// between a reader finding nothing and the socket being armed leaves pings
// unanswered.
func TestRealtimeParkedSocketsKeepUp(t *testing.T) {
	env := rtStart(t)
	const sockets, pings = 30, 200
	socks := make([]*rtSocket, sockets)
	for i := range socks {
		socks[i] = rtDial(t, env)
	}
	ping := []byte(`{"event":"pusher:ping","data":{}}`)
	errs := make(chan error, sockets)
	for _, s := range socks {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), rtWait)
			defer cancel()
			for range pings {
				if err := s.conn.Write(ctx, websocket.MessageText, ping); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range sockets {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range socks {
		for range pings {
			s.next("pusher:pong")
		}
	}
}

// TestRealtimeUnansweredCloseIsDropped checks that a socket whose client
// never answers the server's close (here a 4201 after an unanswered ping)
// is dropped within wsCloseWait, although (on Linux) no goroutine waits on
// it and so no read deadline can end it.
func TestRealtimeUnansweredCloseIsDropped(t *testing.T) {
	env := rtStart(t, func(c *node.Config) {
		c.WSActivityTimeout, c.WSPongTimeout = 3*time.Second, time.Second
	})
	testkit.WaitFor(t, rtWait, "the sockets of earlier tests to be gone", func() bool {
		return wsGoroutines(t) == 0
	})
	rtDialDeaf(t, env)
	hub := env.Node.Hub()
	if runtime.GOOS == "linux" {
		testkit.WaitFor(t, 2*time.Second, "the socket to park before the server's ping", func() bool {
			return wsGoroutines(t) == 0
		})
	}
	// Ping after 3 s, 4201 after 1 s more, dropped 5 s after that.
	testkit.WaitFor(t, 30*time.Second, "the socket that never answered the close to be dropped", func() bool {
		return hub.Connections() == 0
	})
}

// rtRawDial opens a socket with gorilla/websocket, whose connection the
// test may write raw bytes to, and reads connection_established.
func rtRawDial(t *testing.T, env *testkit.Env) *gws.Conn {
	t.Helper()
	nc, _, err := gws.DefaultDialer.Dial("ws://"+env.Node.Addr()+"/app/"+rtKey+"?protocol=7", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetReadDeadline(time.Now().Add(rtWait))
	if _, _, err := nc.ReadMessage(); err != nil { // connection_established
		t.Fatal(err)
	}
	return nc
}

// TestRealtimeFramesInOneSegment checks that frames a client sends in one
// TCP segment are all handled: the reader must see the ones already in its
// read buffer before it parks the socket, or the second waits forever.
func TestRealtimeFramesInOneSegment(t *testing.T) {
	env := rtStart(t)
	nc := rtRawDial(t, env)
	var seg []byte
	for range 3 {
		seg = append(seg, maskedText(`{"event":"pusher:ping","data":{}}`)...)
	}
	if _, err := nc.NetConn().Write(seg); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		_, data, err := nc.ReadMessage()
		if err != nil {
			t.Fatalf("pong %d of 3: %v", i+1, err)
		}
		if !strings.Contains(string(data), "pusher:pong") {
			t.Fatalf("frame %d: %s, want a pong", i+1, data)
		}
	}
}

// maskedText is one client text frame (masked, as clients must send them)
// with a payload under 126 bytes.
func maskedText(payload string) []byte {
	key := [4]byte{1, 2, 3, 4}
	f := []byte{0x81, 0x80 | byte(len(payload)), key[0], key[1], key[2], key[3]}
	for i := range len(payload) {
		f = append(f, payload[i]^key[i%4])
	}
	return f
}
