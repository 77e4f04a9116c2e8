package e2e_test

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"parley/engine"
	"parley/internal/node"
	"parley/internal/testkit"
)

// startNATS runs a JetStream server on port (its store under dir) in the
// test's process, as an external NATS would run.
func startNATS(t *testing.T, dir string, port int) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir,
		NoSigs: true, DisableJetStreamBanner: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	return ns
}

// With the log gone (the external NATS stopped), writes answer 503
// log_unavailable with Retry-After within --append-timeout, not 500 after
// 5 s; /readyz says log_unavailable; history keeps serving from the read
// model. When NATS is back the node reconnects by itself, writes succeed
// (the refused send's retry included) and it is ready again.
func TestLogUnavailableRefusesWritesAndRecovers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	store := filepath.Join(t.TempDir(), "nats")
	ns := startNATS(t, store, port)
	defer func() { ns.Shutdown() }()
	env := opsStart(t, func(c *node.Config) {
		c.NATSURL, c.AppendTimeout = fmt.Sprintf("nats://127.0.0.1:%d", port), 500*time.Millisecond
	})
	alice := env.Token("alice")
	conv := createConv(t, env, alice, "outage", "bob")
	first := sendMsg(t, env, alice, conv, "before", temp(1))

	ns.Shutdown()
	ns.WaitForShutdown()
	start := time.Now()
	r := env.Do("POST", "/api/messages/"+conv, alice, map[string]string{"body": "during", "client_temp_id": temp(2)})
	took := time.Since(start)
	if r.Status != http.StatusServiceUnavailable || r.ErrorCode() != "log_unavailable" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("send without the log: %d %s Retry-After %q", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	if took > 2*time.Second {
		t.Errorf("the refusal took %v, --append-timeout is 500ms", took)
	}
	// While the log is known to be down, the next refusal is quicker still.
	start = time.Now()
	if r := env.Do("POST", "/api/messages/"+conv, alice, map[string]string{"body": "during", "client_temp_id": temp(2)}); r.ErrorCode() != "log_unavailable" {
		t.Fatalf("second send without the log: %d %s", r.Status, r.Body)
	}
	if took := time.Since(start); took > 400*time.Millisecond {
		t.Errorf("the second refusal took %v", took)
	}
	testkit.WaitFor(t, opsWait, "/readyz to say log_unavailable", func() bool {
		r := env.Do("GET", "/readyz", "", nil)
		return r.Status == http.StatusServiceUnavailable && strings.Contains(string(r.Body), `"reason":"log_unavailable"`)
	})
	var page engine.MessagePage
	env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv, alice, nil, &page)
	if len(page.Messages) != 1 || page.Messages[0].ID != first.ID {
		t.Fatalf("history without the log = %+v", page.Messages)
	}

	ns = startNATS(t, store, port)
	testkit.WaitFor(t, opsWait, "a send to succeed again", func() bool {
		r := env.Do("POST", "/api/messages/"+conv, alice, map[string]string{"body": "during", "client_temp_id": temp(2)})
		return r.Status == http.StatusCreated || r.Status == http.StatusOK
	})
	testkit.WaitFor(t, opsWait, "/readyz to be ready again", func() bool {
		return env.Do("GET", "/readyz", "", nil).Status == http.StatusOK
	})
	env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv, alice, nil, &page)
	if len(page.Messages) != 2 || page.Messages[1].Body != "during" {
		t.Fatalf("history after the outage = %+v, want the two messages once each", page.Messages)
	}
}
