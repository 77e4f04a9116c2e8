package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"parley/api"
	"parley/internal/node"
	"parley/internal/testkit"
	"parley/streams"
)

// The stats reflect a known workload exactly: stream counts and sequences,
// the notifications queue, both projections' checkpoints and lag, presence,
// the hub, HTTP, and the same figures on /metrics.
func TestOpsStatsReflectKnownWorkload(t *testing.T) {
	env := opsStart(t, func(c *node.Config) { c.NotifyWindow = 0 })
	alice, bob, carol := env.Token("alice"), env.Token("bob"), env.Token("carol")
	conv := opsGroup(t, env, alice, "bob", "carol") // MESSAGES seq 1
	const sends = 7
	for i := range sends {
		opsSend(t, env, alice, conv, "m"+string(rune('a'+i))) // seqs 2..8; bob and carol offline
	}
	opsWaitNotifications(t, env, bob, sends)
	opsWaitNotifications(t, env, carol, sends)
	opsSSE(t, env, env.Token("dave")) // one realtime connection, one subscription
	st := opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	testkit.WaitFor(t, opsWait, "projections caught up", func() bool {
		st = opsGetStats(t, env)
		return opsProjection(st, "notifications").Lag == 0 && opsProjection(st, "messages").Lag == 0 && st.Hub.Connections == 1 &&
			st.Notifications.Queue.Acked == 1+sends // counted once the server confirmed the last ack
	})

	msgs := opsStream(st, streams.StreamName)
	if msgs.Messages != 1+sends || msgs.FirstSeq != 1 || msgs.LastSeq != 1+sends || msgs.Bytes == 0 || msgs.Consumers < 2 {
		t.Fatalf("MESSAGES: %+v", msgs)
	}
	notes := opsStream(st, streams.NotificationsStream)
	if notes.Messages != 2*sends || notes.LastSeq != 2*sends {
		t.Fatalf("NOTIFICATIONS: %+v", notes)
	}
	c, ok := opsConsumer(st, streams.StreamName, streams.NotifyConsumer)
	if !ok || !c.Durable || c.DeliveredSeq != 1+sends || c.AckFloorSeq != 1+sends || c.Pending != 0 || c.AckPending != 0 ||
		c.Redelivered != 0 || c.LastActive == nil {
		t.Fatalf("notifications consumer: %+v", c)
	}
	want := map[string]api.ProjectionStats{
		"messages":      {Name: "messages", Stream: streams.StreamName, Checkpoint: 1 + sends, StreamLastSeq: 1 + sends},
		"notifications": {Name: "notifications", Stream: streams.NotificationsStream, Checkpoint: 2 * sends, StreamLastSeq: 2 * sends},
	}
	for name, w := range want {
		got := opsProjection(st, name)
		if got.LastAdvancedAt == "" || got.LastAdvancedAt > st.At {
			t.Fatalf("projection %s last advanced at %q, stats taken at %s", name, got.LastAdvancedAt, st.At)
		}
		got.LastAdvancedAt = ""
		if got != w {
			t.Fatalf("projection %s: %+v, want %+v", name, got, w)
		}
	}
	if n := st.Notifications; !n.Enabled || n.Messages != sends || n.Created != 2*sends || n.SkippedOnline != 0 || n.Failed != 0 ||
		n.Queue.Acked != 1+sends || n.Queue.Retried != 0 {
		t.Fatalf("notifications: %+v", n)
	}
	if h := st.Hub; h.Connections != 1 || h.Users != 1 || h.Subscriptions != 1 || h.Channels != 1 || h.SlowConsumerDisconnects != 0 ||
		st.Presence.OnlineUsers != 0 || st.Webhooks.Enabled {
		t.Fatalf("hub %+v, presence %+v, webhooks %+v", st.Hub, st.Presence, st.Webhooks)
	}
	if st.HTTP.Requests < 1+sends || st.HTTP.RequestsPerSecond <= 0 || st.HTTP.LatencyMillis.P99 <= 0 || st.Node != "test-node" {
		t.Fatalf("http %+v, node %q", st.HTTP, st.Node)
	}

	// Every event this node appended went through the group commit, and
	// each was answered after its batch was stored.
	d := st.Durability
	if d.Mode != "fsync" || !d.GroupCommit || len(d.Streams) != 2 {
		t.Fatalf("durability %+v: want fsync before the ack, group commit on MESSAGES and NOTIFICATIONS", d)
	}
	for _, c := range d.Streams {
		want := map[string]uint64{"MESSAGES": 8, "NOTIFICATIONS": 14}[c.Stream]
		if c.Appends != want || c.Batches == 0 || c.Batches > c.Appends || c.BatchSize.Count != c.Batches ||
			c.WaitSeconds.Count < c.Appends || c.Fallbacks != 0 || !c.Batching || c.BatchesPerSecond <= 0 {
			t.Fatalf("group commit on %s: %+v, want %d appends", c.Stream, c, want)
		}
	}

	r := env.MustDo(http.StatusOK, "GET", "/metrics", opsToken(t), nil, nil)
	for _, line := range []string{
		`parley_log_durability{group_commit="true",mode="fsync"} 1`,
		`parley_log_commit_appends_total{stream="MESSAGES"} 8`,
		`parley_log_commit_appends_total{stream="NOTIFICATIONS"} 14`,
		`parley_log_commit_fallbacks_total{stream="MESSAGES"} 0`,
		`parley_log_commit_batch_size_bucket{stream="MESSAGES",le="256"} ` + fmt.Sprint(d.Streams[0].Batches),
		`parley_stream_messages{stream="MESSAGES"} 8`,
		`parley_stream_last_seq{stream="NOTIFICATIONS"} 14`,
		`parley_consumer_pending{consumer="notifications",stream="MESSAGES"} 0`,
		`parley_projection_checkpoint{projection="messages"} 8`,
		`parley_projection_lag{projection="notifications"} 0`,
		`parley_projection_stalled_seconds{projection="messages"} 0`,
		`parley_notifications_created_total 14`,
		`parley_hub_connections 1`,
		`parley_webhook_dead_total 0`,
		`parley_http_requests_total{method="POST",route="/api/messages/:conversation_id",status="201"} 7`,
	} {
		if !strings.Contains(string(r.Body), line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	for _, name := range []string{"parley_data_dir_free_bytes ", "parley_data_dir_size_bytes "} {
		if !strings.Contains(string(r.Body), "\n"+name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", r.Body)
	}
}

// The ops routes need an ops token; the history serves stored snapshots in
// pages; health and readiness answer.
func TestOpsAuthHistoryAndHealth(t *testing.T) {
	env := opsStart(t, func(c *node.Config) { c.StatsInterval = 100 * time.Millisecond })
	ops, user := opsToken(t), env.Token("alice")
	for _, path := range []string{"/api/ops/stats", "/api/ops/stats/history", "/api/ops/dead-letters", "/metrics"} {
		if r := env.Do("GET", path, "", nil); r.Status != http.StatusUnauthorized || r.ErrorCode() != "missing_token" {
			t.Errorf("%s without a token: %d %s", path, r.Status, r.ErrorCode())
		}
		if r := env.Do("GET", path, user, nil); r.Status != http.StatusForbidden || r.ErrorCode() != "ops_token_required" {
			t.Errorf("%s with a user token: %d %s", path, r.Status, r.ErrorCode())
		}
	}
	var h api.StatsHistory
	testkit.WaitFor(t, opsWait, "three snapshots", func() bool {
		env.MustDo(http.StatusOK, "GET", "/api/ops/stats/history?since=1h", ops, nil, &h)
		return len(h.Points) >= 3
	})
	p := h.Points[0]
	if p.Node != "test-node" || p.At == "" || p.ProjectionLag == nil || p.ConsumerPending["MESSAGES/notifications"] != 0 {
		t.Fatalf("point: %+v", p)
	}
	if _, ok := p.ConsumerPending["MESSAGES/notifications"]; !ok {
		t.Fatalf("point without the notifications queue: %+v", p)
	}
	var page1, page2 api.StatsHistory
	env.MustDo(http.StatusOK, "GET", "/api/ops/stats/history?since=1h&limit=2", ops, nil, &page1)
	if len(page1.Points) != 2 || page1.NextCursor == nil {
		t.Fatalf("page 1: %d points, cursor %v", len(page1.Points), page1.NextCursor)
	}
	env.MustDo(http.StatusOK, "GET", "/api/ops/stats/history?limit=2&cursor="+*page1.NextCursor, ops, nil, &page2)
	if len(page2.Points) == 0 || page2.Points[0].At <= page1.Points[1].At {
		t.Fatalf("page 2 does not continue page 1: %+v after %+v", page2.Points, page1.Points)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	env.MustDo(http.StatusOK, "GET", "/api/ops/stats/history?since="+future, ops, nil, &h)
	if len(h.Points) != 0 || h.NextCursor != nil {
		t.Fatalf("points from the future: %+v", h)
	}
	for q, code := range map[string]string{"since=yesterday": "invalid_since", "limit=x": "invalid_limit", "cursor=-1": "invalid_cursor"} {
		if r := env.Do("GET", "/api/ops/stats/history?"+q, ops, nil); r.Status != 400 || r.ErrorCode() != code {
			t.Errorf("history?%s: %d %s", q, r.Status, r.ErrorCode())
		}
	}
	env.MustDo(http.StatusOK, "GET", "/healthz", "", nil, nil)
	var ready map[string]string
	env.MustDo(http.StatusOK, "GET", "/readyz", "", nil, &ready)
	if ready["status"] != "ready" {
		t.Fatalf("readyz: %v", ready)
	}
}

// opsSSE opens an SSE stream as tok's user and keeps it open until the test
// ends.
func opsSSE(t *testing.T, env *testkit.Env, tok string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", env.URL()+"/api/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SSE: %d", resp.StatusCode)
	}
}
