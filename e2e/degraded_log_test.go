package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"parley/engine"
	"parley/internal/node"
	"parley/internal/testkit"
	"parley/projections"
	"parley/streams"
)

// A log that is full (here its own limit, --max-log-bytes, which refuses new
// events as a full disk would) refuses writes at once with 507
// storage_full and Retry-After, and nothing else stops: /readyz and
// /metrics say storage_full, history serves every acknowledged message.
// Once the limit is raised (as an operator would, with the nats CLI) the
// refused send succeeds without a restart, and the read models equal the
// log.
func TestFullLogRefusesWritesAndRecoversWithoutARestart(t *testing.T) {
	env := opsStart(t, func(c *node.Config) { c.MaxLogBytes = 48 << 10 })
	alice := env.Token("alice")
	conv := createConv(t, env, alice, "full", "bob")
	body := strings.Repeat("x", 2000)
	var acked []engine.Message
	var refused *testkit.Response
	for i := range 100 {
		start := time.Now()
		r := env.Do("POST", "/api/messages/"+conv, alice, map[string]string{"body": body, "client_temp_id": temp(i)})
		if r.Status == http.StatusCreated {
			var m engine.Message
			r.Decode(t, &m)
			acked = append(acked, m)
			continue
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("the refusal took %v", took)
		}
		refused = r
		break
	}
	if refused == nil || len(acked) == 0 {
		t.Fatalf("the log never filled: %d sends acknowledged", len(acked))
	}
	if refused.Status != http.StatusInsufficientStorage || refused.ErrorCode() != "storage_full" || refused.Header.Get("Retry-After") == "" {
		t.Fatalf("send to a full log: %d %s Retry-After %q", refused.Status, refused.Body, refused.Header.Get("Retry-After"))
	}
	r := env.Do("GET", "/readyz", "", nil)
	if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), `"reason":"storage_full"`) {
		t.Errorf("/readyz with a full log: %d %s", r.Status, r.Body)
	}
	metrics := string(env.MustDo(http.StatusOK, "GET", "/metrics", opsToken(t), nil, nil).Body)
	if !strings.Contains(metrics, `parley_degraded{component="log writes",reason="storage_full"} 1`) {
		t.Errorf("/metrics does not show the full log")
	}
	var page engine.MessagePage
	env.MustDo(http.StatusOK, "GET", fmt.Sprintf("/api/messages/%s?limit=100", conv), alice, nil, &page)
	if len(page.Messages) != len(acked) {
		t.Fatalf("history holds %d messages, %d were acknowledged", len(page.Messages), len(acked))
	}

	// The operator raises the limit: no restart.
	nc, err := nats.Connect(node.ToolURL(env.Config.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, streams.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.MaxBytes = 16 << 20
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	n := len(acked)
	var m engine.Message
	env.MustDo(http.StatusCreated, "POST", "/api/messages/"+conv, alice, map[string]string{"body": body, "client_temp_id": temp(n)}, &m)
	if r := env.Do("GET", "/readyz", "", nil); r.Status != http.StatusOK {
		t.Errorf("/readyz after the log has room again: %d %s", r.Status, r.Body)
	}

	assertReadModelsEqualTheLog(t, env)
}

// assertReadModelsEqualTheLog is parley verify's check: the node's read
// models equal both streams rebuilt from scratch, read as the tool reads
// them.
func assertReadModelsEqualTheLog(t *testing.T, env *testkit.Env) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	tool, err := streams.Open(ctx, streams.Config{URL: node.ToolURL(env.Config.DataDir), Existing: true, NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tool.Close()
	notes, err := tool.Notifications(ctx, streams.NotificationsConfig{Existing: true})
	if err != nil {
		t.Fatal(err)
	}
	rebuilt, err := projections.OpenBulk(ctx, filepath.Join(t.TempDir(), "rebuilt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer rebuilt.Close()
	db := env.Node.DB()
	testkit.WaitFor(t, opsWait, "the notifications projected", func() bool {
		last, err := notes.Log().LastSeq(ctx)
		return err == nil && opsProjection(opsGetStats(t, env), "notifications").Checkpoint >= last
	})
	if err := projections.Rebuild(ctx, rebuilt, tool.Log().ReadRange, 1, db.Applied(), nil); err != nil {
		t.Fatal(err)
	}
	nlast, err := notes.Log().LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := projections.RebuildNotifications(ctx, rebuilt, notes.Log().ReadRange, nlast); err != nil {
		t.Fatal(err)
	}
	snap, err := db.ReadSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Tx.Rollback()
	reports, err := projections.Compare(ctx, snap, rebuilt)
	if err != nil {
		t.Fatal(err)
	}
	for _, rep := range reports {
		if !rep.Equal() {
			t.Errorf("%s differs from the log: %v", rep.Table, rep.Diffs)
		}
	}
}
