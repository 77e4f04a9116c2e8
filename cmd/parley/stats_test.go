package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/api"
	"parley/engine"
	"parley/internal/node"
	"parley/internal/notify"
	"parley/internal/testkit"
)

// statsWorkload makes a conversation and n messages to an offline user and
// waits until the notification counts them (one notification, unless the
// window is off).
func statsWorkload(t *testing.T, env *testkit.Env, n int) string {
	t.Helper()
	alice, bob := env.Token("alice"), env.Token("bob")
	var d engine.ConversationDetail
	env.MustDo(http.StatusCreated, "POST", "/api/conversations", alice, map[string]any{"participant_ids": []string{"bob"}, "title": "t"}, &d)
	for i := range n {
		env.MustDo(http.StatusCreated, "POST", "/api/messages/"+d.ID, alice,
			map[string]string{"body": "hi", "client_temp_id": "s" + strconv.Itoa(i)}, nil)
	}
	testkit.WaitFor(t, 15*time.Second, "bob's notifications", func() bool {
		var p notify.NotificationPage
		env.MustDo(http.StatusOK, "GET", "/api/notifications", bob, nil, &p)
		return len(p.Notifications) > 0 && p.Notifications[0].Count == int64(n)
	})
	return d.ID
}

// syncBuffer is a bytes.Buffer safe for one writer and a reading test.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	onWrite func(string)
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	n, err := s.b.Write(p)
	all := s.b.String()
	s.mu.Unlock()
	if s.onWrite != nil {
		s.onWrite(all)
	}
	return n, err
}

// `parley stats` prints the running server's stats as tables (or JSON),
// refreshes with --watch, and fails without a valid ops token.
func TestStatsCommandPrintsServerStats(t *testing.T) {
	env := testkit.Start(t)
	statsWorkload(t, env, 3)
	testkit.WaitFor(t, 15*time.Second, "the notifications projection", func() bool {
		st, err := env.Node.API().OpsStats(t.Context())
		return err == nil && st.Projections[1].Lag == 0 && st.Projections[1].Checkpoint == 1 && st.Notifications.Messages == 3
	})

	out, err := runCmd(t, "stats", "--url", env.URL(), "--jwt-secret", testkit.Secret)
	if err != nil {
		t.Fatalf("stats: %v\n%s", err, out)
	}
	for _, re := range []string{
		`(?m)^\s*MESSAGES\s+4\s+\d+\s+1\s+4\s+\d+\s*$`,
		`(?m)^\s*NOTIFICATIONS\s+1\s+\d+\s+1\s+1\s+\d\s*$`, // one notification: the three messages share its window
		`(?m)^\s*MESSAGES/notifications\s+durable\s+0\s+0\s+0\s+\d+\s+\S+ ago\s*$`,
		`(?m)^\s*messages\s+MESSAGES\s+4\s+4\s+0\s*$`,
		`(?m)^\s*notifications\s+NOTIFICATIONS\s+1\s+1\s+0\s*$`,
		`(?m)^notifications: 3 messages, 1 created, 0 skipped online, 2 in an open window`,
		`(?m)^webhooks:\s+off$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("stats output does not match %s:\n%s", re, out)
		}
	}

	out, err = runCmd(t, "stats", "--url", env.URL(), "--jwt-secret", testkit.Secret, "--json")
	var st api.OpsStats
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || len(st.Streams) == 0 {
		t.Fatalf("stats --json: %v\n%s", err, out)
	}

	// --watch refreshes until interrupted: stop it after the second print.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w := &syncBuffer{onWrite: func(all string) {
		if strings.Count(all, "parley stats: node") >= 2 {
			cancel()
		}
	}}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"stats", "--url", env.URL(), "--jwt-secret", testkit.Secret, "--watch", "--interval", "100ms"}, w, w)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stats --watch: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("stats --watch did not refresh twice")
	}

	userTok, _ := api.MintToken([]byte(testkit.Secret), "alice", "", false, time.Hour)
	if out, err := runCmd(t, "stats", "--url", env.URL(), "--token", userTok); err == nil || !strings.Contains(err.Error(), "ops_token_required") {
		t.Fatalf("stats with a user token: %v\n%s", err, out)
	}
}

// verify and replay rebuild the notifications tables too: a live database
// with notifications, a read marker and a dead letter verifies equal, and a
// tampered notification is caught.
func TestVerifyCoversNotifications(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer hook.Close()
	env := testkit.Start(t, func(c *node.Config) {
		c.WebhookURL, c.WebhookSecret, c.WebhookMaxAttempts, c.WebhookRetry = hook.URL, "s", 2, 10*time.Millisecond
		c.NotifyWindow = 0
	})
	statsWorkload(t, env, 1)
	bob := env.Token("bob")
	env.MustDo(http.StatusOK, "POST", "/api/notifications/read", bob, map[string]any{"all": true}, nil)
	testkit.WaitFor(t, 15*time.Second, "a dead letter", func() bool {
		var p notify.DeadLetterPage
		tok, _ := api.MintToken([]byte(testkit.Secret), "ops", "", true, time.Hour)
		env.MustDo(http.StatusOK, "GET", "/api/ops/dead-letters", tok, nil, &p)
		return len(p.DeadLetters) == 1
	})
	dir := env.Config.DataDir
	out, err := runCmd(t, "verify", "--data", dir)
	if err != nil || !strings.Contains(out, "verify: equal") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	for _, re := range []string{`(?m)^notifications\s+1\s+1\s`, `(?m)^notification_items\s+1\s+1\s`, `(?m)^dead_letters\s+1\s+1\s`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Fatalf("verify output does not match %s:\n%s", re, out)
		}
	}
	rebuilt := filepath.Join(t.TempDir(), "rebuilt.db")
	if out, err := runCmd(t, "replay", "--data", dir, "--out", rebuilt); err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if out, err := runCmd(t, "verify", "--data", dir, "--against", rebuilt); err != nil || !strings.Contains(out, "verify: equal") {
		t.Fatalf("verify --against: %v\n%s", err, out)
	}

	env.Stop()
	db, err := sql.Open("sqlite", filepath.Join(dir, "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE notifications SET read_at = NULL`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, err = runCmd(t, "verify", "--data", dir)
	if !errors.Is(err, errDiffer) || !regexp.MustCompile(`(?m)^notifications .*DIFFERENT`).MatchString(out) {
		t.Fatalf("verify of a tampered notification: %v\n%s", err, out)
	}
}
