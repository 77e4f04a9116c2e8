package node

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"parley/engine"
	"parley/projections"
)

// syncBuffer is a log sink the node's goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// getReadyz asks m's /readyz: the status and the JSON body.
func getReadyz(t *testing.T, m *Node) (int, map[string]string) {
	t.Helper()
	resp, err := http.Get(m.URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A SQLite write the projector cannot make (here a trigger refuses every
// message row, as a full disk or an I/O error would refuse the batch) pauses
// the projector instead of stopping the node: /readyz says
// projector_paused, the stats list the condition, the node keeps serving,
// the failures are logged once; once writes succeed again the projector
// resumes by itself from its checkpoint and the read models equal the log.
func TestProjectorPausesOnAWriteFailureAndResumes(t *testing.T) {
	logs := &syncBuffer{}
	cfg := DefaultConfig()
	cfg.Addr, cfg.DataDir, cfg.JWTSecret = "127.0.0.1:0", t.TempDir(), "s"
	m := &Node{Config: cfg, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ctx := t.Context()
	appendEv := func(typ engine.EventType, conv string, data any) uint64 {
		t.Helper()
		ev, err := engine.NewEvent(typ, conv, "u", time.Now(), data)
		if err != nil {
			t.Fatal(err)
		}
		seq, _, err := m.conn.Log().Append(ctx, ev, "")
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	readyz := func() (int, map[string]string) { return getReadyz(t, m) }
	conv := ulid.Make().String()
	created := appendEv(engine.ConversationCreated, conv, engine.ConversationCreatedData{Kind: engine.KindGroup, Title: "t", ParticipantIDs: []string{"u"}})
	waitUntil(t, "the conversation projected", func() bool { return m.db.Applied() >= created })

	side, err := sql.Open("sqlite", "file:"+projections.LivePath(cfg.DataDir)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer side.Close()
	if _, err := side.Exec(`CREATE TRIGGER inject_failure BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'injected write failure'); END`); err != nil {
		t.Fatal(err)
	}
	sent := appendEv(engine.MessageSent, conv, engine.MessageSentData{Body: "kept in the log", ClientTempID: "t1"})

	waitUntil(t, "/readyz to say projector_paused", func() bool {
		code, body := readyz()
		return code == http.StatusServiceUnavailable && body["reason"] == ReasonProjectorPaused
	})
	_, body := readyz()
	if !strings.Contains(body["detail"], "injected write failure") {
		t.Errorf("readyz detail %q does not say what failed", body["detail"])
	}
	// Retried with backoff, still failing: the condition counts the tries.
	waitUntil(t, "a second failed try", func() bool {
		st, err := m.opsStats(ctx)
		return err == nil && len(st.Degraded) == 1 && st.Degraded[0].Failures >= 2
	})
	st, err := m.opsStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.Degraded[0]; c.Reason != ReasonProjectorPaused || c.Component != projectorComponent {
		t.Errorf("degraded = %+v", st.Degraded)
	}
	if got := m.db.Applied(); got >= sent {
		t.Fatalf("checkpoint %d moved past the refused message %d", got, sent)
	}
	// The stats say how long the projection has not advanced.
	waitUntil(t, "the messages projection stalled", func() bool {
		st, err := m.opsStats(ctx)
		return err == nil && st.Projections[0].Lag > 0 && st.Projections[0].StalledSeconds > 0
	})
	if resp, err := http.Get(m.URL() + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the node stopped serving while paused: %v %v", resp, err)
	}

	if _, err := side.Exec(`DROP TRIGGER inject_failure`); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the projector to resume", func() bool { return m.db.Applied() >= sent })
	waitUntil(t, "/readyz to be ready again", func() bool { code, _ := readyz(); return code == http.StatusOK })
	if st, err := m.opsStats(ctx); err != nil || len(st.Degraded) != 0 || st.Projections[0].StalledSeconds != 0 {
		t.Errorf("still degraded after the resume: %+v %v", st, err)
	}
	if n := strings.Count(logs.String(), "degraded: messages projector projector_paused"); n != 1 {
		t.Errorf("the pause was logged %d times, want once:\n%s", n, logs)
	}
	if n := strings.Count(logs.String(), "recovered: messages projector"); n != 1 {
		t.Errorf("the recovery was logged %d times, want once:\n%s", n, logs)
	}

	// The read models equal the log rebuilt from scratch: nothing applied
	// twice, nothing skipped.
	rebuilt, err := projections.OpenBulk(ctx, filepath.Join(t.TempDir(), "rebuilt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer rebuilt.Close()
	if err := projections.Rebuild(ctx, rebuilt, m.conn.Log().ReadRange, 1, m.db.Applied(), nil); err != nil {
		t.Fatal(err)
	}
	snap, err := m.db.ReadSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Tx.Rollback()
	reports, err := projections.Compare(ctx, snap, rebuilt)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		if !r.Equal() {
			t.Errorf("%s differs from the log: %d vs %d rows, %v", r.Table, r.LiveRows, r.RebuiltRows, r.Diffs)
		}
	}
}

// The notifications projector pauses and resumes the same way: a refused
// write degrades the node (notifications projector, projector_paused) and
// the notification appears once the write succeeds again.
func TestNotificationsProjectorPausesOnAWriteFailureAndResumes(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr, cfg.DataDir, cfg.JWTSecret = "127.0.0.1:0", t.TempDir(), "s"
	m := &Node{Config: cfg, Logger: slog.New(slog.NewTextHandler(&syncBuffer{}, nil))}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ctx := t.Context()
	side, err := sql.Open("sqlite", "file:"+projections.LivePath(cfg.DataDir)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer side.Close()
	if _, err := side.Exec(`CREATE TRIGGER inject_failure BEFORE INSERT ON notifications BEGIN SELECT RAISE(ABORT, 'injected write failure'); END`); err != nil {
		t.Fatal(err)
	}
	// u writes to v, who is offline: the notifier opens v a notification.
	conv := ulid.Make().String()
	for _, ev := range []struct {
		typ  engine.EventType
		data any
	}{
		{engine.ConversationCreated, engine.ConversationCreatedData{Kind: engine.KindGroup, Title: "t", ParticipantIDs: []string{"u", "v"}}},
		{engine.MessageSent, engine.MessageSentData{Body: "are you there?", ClientTempID: "t1"}},
	} {
		e, err := engine.NewEvent(ev.typ, conv, "u", time.Now(), ev.data)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.conn.Log().Append(ctx, e, ""); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "the notifications projector to pause", func() bool {
		st, err := m.opsStats(ctx)
		return err == nil && len(st.Degraded) == 1 && st.Degraded[0].Component == notificationsComponent &&
			st.Degraded[0].Reason == ReasonProjectorPaused
	})
	if err := m.ready(); err == nil || !strings.Contains(err.Error(), ReasonProjectorPaused) {
		t.Errorf("ready() = %v while the notifications projector is paused", err)
	}
	if _, err := side.Exec(`DROP TRIGGER inject_failure`); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "v's notification", func() bool {
		var n int
		return side.QueryRow(`SELECT count(*) FROM notifications WHERE user_id = 'v'`).Scan(&n) == nil && n == 1
	})
	waitUntil(t, "the node to be ready again", func() bool { return m.ready() == nil })
}

// Below --low-space-mb free the node warns (data directory, low_space,
// severity warning) and stays ready; the stats carry the data directory's
// free space. With the warning off there is no condition.
func TestLowSpaceWarnsAndStaysReady(t *testing.T) {
	start := func(lowMB int) (*Node, *syncBuffer) {
		logs := &syncBuffer{}
		cfg := DefaultConfig()
		cfg.Addr, cfg.DataDir, cfg.JWTSecret = "127.0.0.1:0", t.TempDir(), "s"
		cfg.LowSpaceMB = lowMB
		m := &Node{Config: cfg, Logger: slog.New(slog.NewTextHandler(logs, nil))}
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m, logs
	}
	m, logs := start(1 << 30) // a PiB: more than any disk here has free
	st, err := m.opsStats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Degraded) != 1 || st.Degraded[0].Component != diskComponent || st.Degraded[0].Reason != ReasonLowSpace ||
		st.Degraded[0].Severity != SeverityWarning {
		t.Fatalf("degraded = %+v", st.Degraded)
	}
	if st.Disk == nil || st.Disk.FreeBytes == 0 || st.Disk.TotalBytes < st.Disk.FreeBytes || st.Disk.LowSpaceBytes != 1<<50 {
		t.Fatalf("disk = %+v", st.Disk)
	}
	if err := m.ready(); err != nil {
		t.Errorf("a low-space warning made the node not ready: %v", err)
	}
	if n := strings.Count(logs.String(), "warning: data directory low_space"); n != 1 {
		t.Errorf("the warning was logged %d times:\n%s", n, logs)
	}

	off, _ := start(0)
	if st, err := off.opsStats(t.Context()); err != nil || len(st.Degraded) != 0 || st.Disk == nil {
		t.Errorf("with --low-space-mb 0: %+v %v", st, err)
	}
}
