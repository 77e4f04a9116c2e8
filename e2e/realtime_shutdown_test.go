package e2e_test

import (
	"context"
	"testing"
	"time"

	"parley/internal/testkit"
)

// TestRealtimeCloseEndsSocketsAtDeadline checks that CloseRealtime, once
// its context ends, drops the sockets still waiting for a client's close
// frame and returns only when they are gone: a client that stopped reading
// never answers the close, and its socket must not outlive the shutdown.
// CloseRealtime waits for the answer until the deadline (not less: the
// client never answers) and returns right after it, well before the 5 s
// the server would otherwise give a socket to finish.
func TestRealtimeCloseEndsSocketsAtDeadline(t *testing.T) {
	const deadline = 200 * time.Millisecond
	env := rtStart(t)
	rtDialDeaf(t, env)
	hub := env.Node.Hub()
	sctx, scancel := context.WithTimeout(context.Background(), deadline)
	defer scancel()
	start := time.Now()
	env.Node.API().CloseRealtime(sctx)
	took := time.Since(start)
	if n := hub.Connections(); n != 0 {
		t.Fatalf("CloseRealtime returned after %v with %d socket(s) still served", took, n)
	}
	if took < deadline {
		t.Fatalf("CloseRealtime returned after %v, before its deadline of %v, although the client never answered the close", took, deadline)
	}
	if took > deadline+2*time.Second {
		t.Fatalf("CloseRealtime returned after %v: the socket was not dropped at the deadline of %v", took, deadline)
	}
	t.Logf("CloseRealtime returned %v after a deadline of %v", took-deadline, deadline)
}

// TestRealtimeRefusesSocketsAfterClose checks that a socket opened once
// CloseRealtime has run is refused with 4200 (reconnect, elsewhere) instead
// of being served by a node that is shutting down.
func TestRealtimeRefusesSocketsAfterClose(t *testing.T) {
	env := rtStart(t)
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	env.Node.API().CloseRealtime(ctx)
	rtDialRaw(t, env, "/app/"+rtKey+"?protocol=7", nil).refused("a socket after CloseRealtime", 4200)
	if n := env.Node.Hub().Connections(); n != 0 {
		t.Fatalf("%d connections served after CloseRealtime", n)
	}
}

// rtDialDeaf opens a socket that reads connection_established and then
// nothing more (it answers no ping and no close), and checks the node
// serves it.
func rtDialDeaf(t *testing.T, env *testkit.Env) {
	t.Helper()
	conn := rtConnect(t, env, "/app/"+rtKey+"?protocol=7", nil)
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	if _, _, err := conn.Read(ctx); err != nil {
		t.Fatal(err)
	}
	if n := env.Node.Hub().Connections(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}
