package node

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"parley/engine"
)

// /readyz answers 503 with the reason (projection_behind) while a projection is further behind
// its stream than --ready-max-lag, and 200 once it has caught up.
func TestReadyzFollowsProjectionLag(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr, cfg.DataDir, cfg.JWTSecret, cfg.ReadyMaxLag = "127.0.0.1:0", t.TempDir(), "s", 1
	m := &Node{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	readyz := func() (int, string, string) {
		code, body := getReadyz(t, m)
		return code, body["reason"], body["detail"]
	}
	if code, reason, _ := readyz(); code != http.StatusOK {
		t.Fatalf("a fresh node is not ready: %d %s", code, reason)
	}

	m.projMu.Lock()
	m.stopProjector()
	m.projMu.Unlock()
	for range 2 { // two events behind, one allowed
		ev, err := engine.NewEvent(engine.ConversationCreated, ulid.Make().String(), "u", time.Now(), engine.ConversationCreatedData{
			Kind: engine.KindGroup, Title: "t", ParticipantIDs: []string{"u"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.conn.Log().Append(t.Context(), ev, ""); err != nil {
			t.Fatal(err)
		}
	}
	if code, reason, detail := readyz(); code != http.StatusServiceUnavailable || reason != ReasonProjectionBehind ||
		!strings.Contains(detail, "messages is 2 events behind") {
		t.Fatalf("behind by 2 with --ready-max-lag 1: %d %q %q", code, reason, detail)
	}

	m.projMu.Lock()
	m.startProjector()
	m.projMu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, reason, _ := readyz()
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not ready after the projector caught up: %d %s", code, reason)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
