package e2e_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"parley/api"
	"parley/engine"
	"parley/internal/node"
	"parley/internal/notify"
	"parley/internal/testkit"
)

// opsWait bounds every wait of the ops and notification tests.
const opsWait = 15 * time.Second

// opsStart starts a node with fast retries and snapshots.
func opsStart(t testing.TB, opts ...func(*node.Config)) *testkit.Env {
	t.Helper()
	return testkit.Start(t, append([]func(*node.Config){func(c *node.Config) {
		c.NotifyRetry, c.WebhookRetry = 20*time.Millisecond, 20*time.Millisecond
		c.NodeName = "test-node"
	}}, opts...)...)
}

// opsToken mints an ops token.
func opsToken(t testing.TB) string {
	t.Helper()
	tok, err := api.MintToken([]byte(testkit.Secret), "ops", "", true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// opsGetStats reads /api/ops/stats.
func opsGetStats(t testing.TB, env *testkit.Env) api.OpsStats {
	t.Helper()
	var st api.OpsStats
	env.MustDo(http.StatusOK, "GET", "/api/ops/stats", opsToken(t), nil, &st)
	return st
}

// opsConsumer finds a consumer in a stats answer.
func opsConsumer(st api.OpsStats, stream, name string) (api.ConsumerStats, bool) {
	for _, c := range st.Consumers {
		if c.Stream == stream && c.Name == name {
			return c, true
		}
	}
	return api.ConsumerStats{}, false
}

// opsStream finds a stream in a stats answer.
func opsStream(st api.OpsStats, name string) api.StreamStats {
	for _, s := range st.Streams {
		if s.Name == name {
			return s
		}
	}
	return api.StreamStats{}
}

// opsProjection finds a projection in a stats answer.
func opsProjection(st api.OpsStats, name string) api.ProjectionStats {
	for _, p := range st.Projections {
		if p.Name == name {
			return p
		}
	}
	return api.ProjectionStats{}
}

// opsQueueIdle waits until a durable consumer has nothing pending or in
// flight and has delivered up to its stream's last sequence.
func opsQueueIdle(t testing.TB, env *testkit.Env, stream, name string) api.OpsStats {
	t.Helper()
	var st api.OpsStats
	testkit.WaitFor(t, opsWait, name+" consumer idle", func() bool {
		st = opsGetStats(t, env)
		c, ok := opsConsumer(st, stream, name)
		return ok && c.Pending == 0 && c.AckPending == 0 && c.AckFloorSeq == opsStream(st, stream).LastSeq
	})
	return st
}

// opsGroup creates a group conversation as tok's user and returns its id.
func opsGroup(t testing.TB, env *testkit.Env, tok string, others ...string) string {
	t.Helper()
	var d engine.ConversationDetail
	env.MustDo(http.StatusCreated, "POST", "/api/conversations", tok,
		map[string]any{"participant_ids": others, "title": "ops group"}, &d)
	return d.ID
}

var opsTempSeq atomic.Int64

// opsSend sends a message and expects 201.
func opsSend(t testing.TB, env *testkit.Env, tok, conv, body string) engine.Message {
	t.Helper()
	var m engine.Message
	env.MustDo(http.StatusCreated, "POST", "/api/messages/"+conv, tok,
		map[string]string{"body": body, "client_temp_id": fmt.Sprintf("ops-%d", opsTempSeq.Add(1))}, &m)
	return m
}

// opsNotifications lists a user's notifications with a raw query.
func opsNotifications(t testing.TB, env *testkit.Env, tok, query string) notify.NotificationPage {
	t.Helper()
	var p notify.NotificationPage
	env.MustDo(http.StatusOK, "GET", "/api/notifications?"+query, tok, nil, &p)
	return p
}

// opsWaitNotifications waits until the user has n notifications.
func opsWaitNotifications(t testing.TB, env *testkit.Env, tok string, n int) notify.NotificationPage {
	t.Helper()
	var p notify.NotificationPage
	deadline := time.Now().Add(opsWait)
	for {
		p = opsNotifications(t, env, tok, "")
		if len(p.Notifications) >= n {
			break
		}
		if time.Now().After(deadline) {
			var st api.OpsStats
			env.MustDo(http.StatusOK, "GET", "/api/ops/stats", opsToken(t), nil, &st)
			t.Fatalf("timed out waiting for %d notifications: %d, stats %+v %+v", n, len(p.Notifications), st.Notifications, st.Projections)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(p.Notifications) != n {
		t.Fatalf("got %d notifications, want %d: %+v", len(p.Notifications), n, p.Notifications)
	}
	return p
}
