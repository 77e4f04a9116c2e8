package e2e_test

import (
	"net/http"
	"strings"
	"testing"

	"parley/internal/node"
	"parley/internal/testkit"
)

// One client address may hold at most --max-connections-per-ip sockets:
// the next is refused with pusher:error 4100 and closed with 4100 (pusher-js
// retries with backoff), a closed socket frees its slot, and behind a
// trusted proxy the X-Forwarded-For address is the one counted.
func TestMaxConnectionsPerIP(t *testing.T) {
	env := rtStart(t, func(c *node.Config) { c.MaxConnectionsPerIP = 2 })
	first, _ := rtDial(t, env), rtDial(t, env)
	rtDialRaw(t, env, "/app/"+rtKey+"?protocol=7", nil).refused("third socket from one address", 4100)
	// Loopback is a trusted proxy by default: its forwarded clients count apart.
	fwd := http.Header{"X-Forwarded-For": {"203.0.113.7"}}
	for i := 0; i < 2; i++ {
		s := rtDialRaw(t, env, "/app/"+rtKey+"?protocol=7", fwd)
		s.next("pusher:connection_established")
	}
	rtDialRaw(t, env, "/app/"+rtKey+"?protocol=7", fwd).refused("third forwarded socket", 4100)
	// Closing a socket frees its slot once the server has noticed.
	_ = first.conn.CloseNow()
	testkit.WaitFor(t, rtWait, "a slot freed by a closed socket", func() bool {
		s := rtDialRaw(t, env, "/app/"+rtKey+"?protocol=7", nil)
		f := s.nextWhere("", func(f rtFrame) bool { return f.Event == "pusher:connection_established" || f.Event == "pusher:error" })
		_ = s.conn.CloseNow()
		return f.Event == "pusher:connection_established"
	})
}

// IPv6 clients are capped per /64: two addresses of one /64 share the
// limit, an address of another /64 does not.
func TestMaxConnectionsPerIPv6Prefix(t *testing.T) {
	env := rtStart(t, func(c *node.Config) { c.MaxConnectionsPerIP = 2 })
	dial := func(addr string) rtFrame {
		s := rtDialRaw(t, env, "/app/"+rtKey+"?protocol=7", http.Header{"X-Forwarded-For": {addr}})
		return s.nextWhere("", func(f rtFrame) bool { return f.Event == "pusher:connection_established" || f.Event == "pusher:error" })
	}
	for _, addr := range []string{"2001:db8:1:2::1", "2001:db8:1:2:aaaa::7"} {
		if f := dial(addr); f.Event != "pusher:connection_established" {
			t.Fatalf("socket from %s: %s %s", addr, f.Event, f.Data)
		}
	}
	if f := dial("2001:db8:1:2:ffff::9"); f.Event != "pusher:error" || !strings.Contains(f.Data, "4100") {
		t.Fatalf("third socket from one /64: %s %s, want pusher:error 4100", f.Event, f.Data)
	}
	if f := dial("2001:db8:1:3::1"); f.Event != "pusher:connection_established" {
		t.Fatalf("socket from another /64: %s %s", f.Event, f.Data)
	}
}
