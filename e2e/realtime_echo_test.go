package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"parley/internal/testkit"
)

// rtClientDir is the folder with the real-JS-client scripts and their lock file.
const rtClientDir = "clients"

// rtNode finds node and makes sure the client packages are installed.
func rtNode(t *testing.T) string {
	t.Helper()
	return testkit.NodeModules(t, rtClientDir)
}

// TestRealtimeEchoClient runs laravel-echo 2 + pusher-js 8 from npm against
// a node: presence, private channels, whisper, message.sent,
// conversation.updated, a refused subscription, and a dropped socket that
// catches up with delta and ends with every message exactly once.
func TestRealtimeEchoClient(t *testing.T) {
	nodeBin := rtNode(t)
	env := rtStart(t)
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := rtConv(t, env, alice, "bob")
	host, port, _ := net.SplitHostPort(env.Node.Addr())
	p, _ := strconv.Atoi(port)
	params, _ := json.Marshal(map[string]any{
		"base": env.URL(), "key": rtKey, "host": host, "port": p, "conversation": conv,
		"tokens": map[string]string{"alice": alice, "bob": bob},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "echo_flow.mjs")
	cmd.Dir = rtClientDir
	cmd.Env = append(os.Environ(), "PARLEY_TEST="+string(params))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node echo_flow.mjs: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	var got struct {
		AliceSees []string `json:"aliceSees"`
		BobSees   []string `json:"bobSees"`
		Whisper   struct {
			Typing bool   `json:"typing"`
			UserID string `json:"user_id"`
		} `json:"whisper"`
		RefusedStatus int    `json:"refusedStatus"`
		FirstSeq      uint64 `json:"firstSeq"`
		Update        *struct {
			Summary struct {
				UnreadTotal int64 `json:"unread_total"`
			} `json:"summary"`
			Conversation struct {
				ID string `json:"id"`
			} `json:"conversation"`
		} `json:"update"`
		LastSeen     uint64   `json:"lastSeen"`
		SocketBodies []string `json:"socketBodies"`
		DeltaBodies  []string `json:"deltaBodies"`
		Merged       []string `json:"merged"`
		History      []string `json:"history"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("client output %q: %v (stderr %s)", stdout.String(), err, stderr.String())
	}
	t.Logf("echo client saw: %s", stdout.String())
	both := []string{"alice", "bob"}
	if !slices.Equal(got.AliceSees, both) || !slices.Equal(got.BobSees, both) {
		t.Errorf("presence-messaging: alice sees %v, bob sees %v", got.AliceSees, got.BobSees)
	}
	if !got.Whisper.Typing || got.Whisper.UserID != "alice" {
		t.Errorf("whisper: %+v", got.Whisper)
	}
	if got.RefusedStatus != 403 {
		t.Errorf("refused subscription status %d, want 403", got.RefusedStatus)
	}
	if got.Update == nil || got.Update.Summary.UnreadTotal != 1 || got.Update.Conversation.ID != conv {
		t.Errorf("conversation.updated: %+v", got.Update)
	}
	if !slices.Equal(got.DeltaBodies, []string{"m2", "m3", "m4"}) || got.SocketBodies[0] != "m1" || got.SocketBodies[len(got.SocketBodies)-1] != "m5" {
		t.Errorf("socket delivered %v, delta after seq %d gave %v", got.SocketBodies, got.LastSeen, got.DeltaBodies)
	}
	if len(got.History) != 5 || !slices.Equal(got.Merged, got.History) {
		t.Errorf("merged messages %v, history %v", got.Merged, got.History)
	}
}
