package streams

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"parley/engine"
)

// On one embedded node with fsync before the ack, appends wait for an
// fsync of the stream's blocks, and the syncer follows the server onto
// each new block file as the old ones fill.
func TestBlockSyncerFollowsNewBlocks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	conn, err := Open(ctx, Config{DataDir: dir, SyncAlways: true, GroupCommit: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	l := conn.Log()
	if l.blocks == nil || l.commit != nil {
		t.Fatal("a single embedded node with --sync always does not fsync its blocks itself")
	}
	if conn.ns.JetStreamConfig().SyncAlways {
		t.Fatal("the embedded server fsyncs every message although the blocks are fsynced by round")
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	send := func(body string) engine.Event {
		ev, err := engine.NewEvent(engine.MessageSent, gcConv, "alice", at, engine.MessageSentData{Body: body, ClientTempID: body})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	if _, _, err := l.Append(ctx, send("first"), ""); err != nil {
		t.Fatal(err)
	}
	if l.blocks.curIdx != 1 {
		t.Fatalf("after the first append the syncer holds block %d, want 1", l.blocks.curIdx)
	}
	// About 20 MiB: the 8 MiB blocks fill and the server opens new ones.
	big := strings.Repeat("x", 1000)
	evs := make([]engine.Event, 20000)
	for i := range evs {
		evs[i] = send(big)
	}
	if err := l.AppendAsync(ctx, evs, 1000); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Append(ctx, send("last"), ""); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(embeddedBlocks(dir, StreamName))
	if err != nil {
		t.Fatal(err)
	}
	last := 0
	for _, e := range entries {
		if n, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".blk")); err == nil {
			last = max(last, n)
		}
	}
	if last < 3 {
		t.Fatalf("the stream has %d blocks: the test did not make it move on", last)
	}
	if l.blocks.curIdx != last {
		t.Fatalf("the syncer fsyncs block %d, the server writes block %d", l.blocks.curIdx, last)
	}
	st, _ := l.CommitStats()
	if st.Batches < 2 || st.Appends != 2 {
		t.Fatalf("stats %+v: want the two waited appends in their rounds", st)
	}
}

// An append whose fsync round does not end (a disk that stopped
// answering) gives up at its context's end instead of hanging with it.
func TestBlockSyncWaitEndsWithItsContext(t *testing.T) {
	s := newBlockSyncer(t.TempDir())
	s.mu.Lock()
	s.syncing, s.started = true, 1 // a round that never ends
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.sync(ctx) }()
	select {
	case err := <-done:
		if err != context.DeadlineExceeded {
			t.Fatalf("sync: %v, want the context's deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sync waited past its context for a round that never ends")
	}
}
