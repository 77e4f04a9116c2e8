package e2e_test

import (
	"database/sql"
	"net/http"
	"strings"
	"testing"
	"time"

	"parley/engine"
	"parley/internal/node"
	"parley/internal/testkit"
	"parley/projections"
)

// A read model that cannot be written (a trigger refuses message rows, as a
// full disk or an I/O error refuses a batch) degrades the node instead of
// stopping it: a send is stored and answered 503 not_yet_projected with
// Retry-After, /readyz and /metrics say projector_paused, history keeps
// serving; once writes succeed the projector resumes by itself, and the
// retried send returns the one stored message.
func TestSendWhileTheProjectorIsPausedIsKeptAndRetriedOnce(t *testing.T) {
	env := opsStart(t, func(c *node.Config) { c.ApplyTimeout = 10 * time.Second })
	alice := env.Token("alice")
	conv := createConv(t, env, alice, "paused", "bob")
	first := sendMsg(t, env, alice, conv, "before", temp(1))

	side, err := sql.Open("sqlite", "file:"+projections.LivePath(env.Config.DataDir)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer side.Close()
	if _, err := side.Exec(`CREATE TRIGGER inject_failure BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'injected write failure'); END`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := env.Do("POST", "/api/messages/"+conv, alice, map[string]string{"body": "during", "client_temp_id": temp(2)})
	// The projector pauses on this send's batch: the send answers then, not
	// after --apply-timeout (10 s here).
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the send waited %v for a paused projector", took)
	}
	if r.Status != http.StatusServiceUnavailable || r.ErrorCode() != "not_yet_projected" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("send while paused: %d %s %q", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	testkit.WaitFor(t, opsWait, "/readyz to say projector_paused", func() bool {
		r := env.Do("GET", "/readyz", "", nil)
		return r.Status == http.StatusServiceUnavailable && strings.Contains(string(r.Body), `"reason":"projector_paused"`)
	})
	metrics := string(env.MustDo(http.StatusOK, "GET", "/metrics", opsToken(t), nil, nil).Body)
	if !strings.Contains(metrics, `parley_degraded{component="messages projector",reason="projector_paused"} 1`) {
		t.Errorf("/metrics does not show the pause:\n%s", metrics)
	}
	var page engine.MessagePage
	env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv, alice, nil, &page)
	if len(page.Messages) != 1 || page.Messages[0].ID != first.ID {
		t.Fatalf("history while paused = %+v", page.Messages)
	}

	if _, err := side.Exec(`DROP TRIGGER inject_failure`); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, opsWait, "/readyz to be ready again", func() bool {
		return env.Do("GET", "/readyz", "", nil).Status == http.StatusOK
	})
	// The retry finds the message stored during the pause: 200, the original.
	var again engine.Message
	env.MustDo(http.StatusOK, "POST", "/api/messages/"+conv, alice, map[string]string{"body": "during", "client_temp_id": temp(2)}, &again)
	env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv, alice, nil, &page)
	if len(page.Messages) != 2 || page.Messages[1].ID != again.ID || again.Body != "during" {
		t.Fatalf("history after the resume = %+v, want the first message and %s once", page.Messages, again.ID)
	}
	if st := opsGetStats(t, env); len(st.Degraded) != 0 {
		t.Errorf("still degraded: %+v", st.Degraded)
	}
}
