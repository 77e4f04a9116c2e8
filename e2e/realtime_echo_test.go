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

	"parley/engine"
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
		Whispers     int      `json:"whispers"`
		LastSeen     uint64   `json:"lastSeen"`
		SocketBodies []string `json:"socketBodies"`
		SocketIDs    []string `json:"socketIds"`
		DeltaBodies  []string `json:"deltaBodies"`
		DeltaIDs     []string `json:"deltaIds"`
		History      []string `json:"history"`
		ReplyTo      string   `json:"replyTo"`
		// The reactions: put while bob was away (in his delta), then live.
		ReactedInDelta []engine.ReactionChange `json:"reactedInDelta"`
		ReactedLive    []engine.ReactionChange `json:"reactedLive"`
		FirstInHistory engine.Message          `json:"firstInHistory"`
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
	if got.Whispers != 1 {
		t.Errorf("bob got %d whispers, want 1", got.Whispers)
	}
	// Raw deliveries, each exactly once: the socket while bob was online
	// (m6 a fence after m5), the delta for the time he was not.
	if !slices.Equal(got.SocketBodies, []string{"m1", "m5", "m6"}) || !slices.Equal(got.DeltaBodies, []string{"m2", "m3", "m4", "r1"}) {
		t.Errorf("socket delivered %v, delta after seq %d gave %v; want [m1 m5 m6] and [m2 m3 m4 r1], each once", got.SocketBodies, got.LastSeen, got.DeltaBodies)
	}
	// Replies and reactions made while bob was away come with his delta,
	// and a reaction made while he is online comes live, once.
	m1 := got.FirstInHistory
	if got.ReplyTo != m1.ID {
		t.Errorf("the reply in the delta answers %q, want m1 %q", got.ReplyTo, m1.ID)
	}
	wantDelta := []engine.ReactionChange{{MessageID: m1.ID, UserID: "alice", Emoji: "👍", Reacted: true}}
	wantLive := []engine.ReactionChange{{MessageID: m1.ID, UserID: "alice", Emoji: "🎉", Reacted: true}}
	if !slices.Equal(got.ReactedInDelta, wantDelta) || !slices.Equal(got.ReactedLive, wantLive) {
		t.Errorf("message.reacted: delta %+v, live %+v; want %+v and %+v", got.ReactedInDelta, got.ReactedLive, wantDelta, wantLive)
	}
	if m1.ReplyCount != 1 || len(m1.Reactions) != 2 || m1.Reactions[0].Emoji != "👍" || m1.Reactions[1].Emoji != "🎉" || m1.Reactions[0].Me {
		t.Errorf("m1 in bob's history: reply_count %d, reactions %+v; want 1 and 👍 then 🎉, not bob's", m1.ReplyCount, m1.Reactions)
	}
	delivered := map[string]int{}
	for _, id := range append(append([]string{}, got.SocketIDs...), got.DeltaIDs...) {
		delivered[id]++
	}
	if len(got.History) != 7 {
		t.Errorf("history holds %d messages, want 7: %v", len(got.History), got.History)
	}
	for _, id := range got.History {
		if delivered[id] != 1 {
			t.Errorf("message %s was delivered %d times (socket %v, delta %v)", id, delivered[id], got.SocketIDs, got.DeltaIDs)
		}
	}
	if len(delivered) != len(got.History) {
		t.Errorf("delivered %d distinct messages, history holds %d", len(delivered), len(got.History))
	}
}
