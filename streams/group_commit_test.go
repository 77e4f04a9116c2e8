package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"parley/engine"
)

const gcConv = "01KBBBBBBBBBBBBBBBBBBBBBBB"

// openGroupCommit starts an embedded server that fsyncs before each ack,
// as a cluster member does, where appends go through a committer of atomic
// batches (the tests make their own committers).
func openGroupCommit(t *testing.T) *Conn {
	t.Helper()
	conn, err := Open(context.Background(), Config{DataDir: t.TempDir(), SyncAlways: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// pend is one send's append, keyed as the engine keys sends.
func pend(t *testing.T, ctid string) *pendingAppend {
	t.Helper()
	ev, err := engine.NewEvent(engine.MessageSent, gcConv, "alice", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		engine.MessageSentData{Body: "body " + ctid, ClientTempID: ctid})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return &pendingAppend{subject: Subject(gcConv), typ: ev.Type, raw: raw, key: engine.SendKey(gcConv, "alice", ctid),
		queued: time.Now(), done: make(chan appendResult, 1)}
}

// commitNow runs one batch through a committer of its own (as the loop
// would) and returns each append's answer in order.
func commitNow(t *testing.T, c *committer, batch ...*pendingAppend) []appendResult {
	t.Helper()
	c.commit(batch)
	out := make([]appendResult, len(batch))
	for i, p := range batch {
		select {
		case out[i] = <-p.done:
		default:
			t.Fatalf("append %d of the batch was not answered", i)
		}
	}
	return out
}

// storedKeys reads the conversation's events and returns their client temp
// ids in stream order.
func storedKeys(t *testing.T, conn *Conn) []string {
	t.Helper()
	evs, _, err := conn.Log().ConversationEvents(context.Background(), gcConv, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		var d engine.MessageSentData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d:%s", ev.Seq, d.ClientTempID))
	}
	return out
}

func newTestCommitter(t *testing.T, conn *Conn) *committer {
	c := newCommitter(conn.js, StreamName, 2*time.Minute, func() time.Duration { return 10 * time.Second })
	t.Cleanup(c.close)
	return c
}

// Retries of one key in the same batch store one event: the first is
// published, the others get its sequence as duplicates; the batch's other
// events are stored with consecutive sequences.
func TestGroupCommitDuplicateKeyInOneBatch(t *testing.T) {
	conn := openGroupCommit(t)
	c := newTestCommitter(t, conn)
	got := commitNow(t, c, pend(t, "a"), pend(t, "b"), pend(t, "a"), pend(t, "c"), pend(t, "a"))
	want := []appendResult{{seq: 1}, {seq: 2}, {seq: 1, dup: true}, {seq: 3}, {seq: 1, dup: true}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("append %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if keys := fmt.Sprint(storedKeys(t, conn)); keys != "[1:a 2:b 3:c]" {
		t.Fatalf("stored %s, want [1:a 2:b 3:c]", keys)
	}
	st := c.Stats()
	if st.Batches != 1 || st.Appends != 3 || st.Fallbacks != 0 {
		t.Fatalf("stats %+v: want one batch of 3 events, no fallback", st)
	}
}

// A retry in the next batch is answered from the committer's memory with
// the original's sequence, and publishes nothing.
func TestGroupCommitDuplicateKeyInTheNextBatch(t *testing.T) {
	conn := openGroupCommit(t)
	c := newTestCommitter(t, conn)
	commitNow(t, c, pend(t, "a"), pend(t, "b"))
	got := commitNow(t, c, pend(t, "c"), pend(t, "a"), pend(t, "d"))
	want := []appendResult{{seq: 3}, {seq: 1, dup: true}, {seq: 4}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("append %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if keys := fmt.Sprint(storedKeys(t, conn)); keys != "[1:a 2:b 3:c 4:d]" {
		t.Fatalf("stored %s, want [1:a 2:b 3:c 4:d]", keys)
	}
}

// A key the committer does not remember (stored by another node, or before
// a restart) gets the whole batch refused by JetStream; the committer then
// publishes one by one: the retry gets the original's sequence, and none
// of the batch's other events is lost.
func TestGroupCommitRefusedBatchLosesNothing(t *testing.T) {
	conn := openGroupCommit(t)
	commitNow(t, newTestCommitter(t, conn), pend(t, "a"), pend(t, "b"))
	other := newTestCommitter(t, conn) // knows nothing of a and b
	got := commitNow(t, other, pend(t, "c"), pend(t, "b"), pend(t, "d"))
	want := []appendResult{{seq: 3}, {seq: 2, dup: true}, {seq: 4}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("append %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if keys := fmt.Sprint(storedKeys(t, conn)); keys != "[1:a 2:b 3:c 4:d]" {
		t.Fatalf("stored %s, want [1:a 2:b 3:c 4:d]", keys)
	}
	if st := other.Stats(); st.Fallbacks != 1 {
		t.Fatalf("stats %+v: want the refused batch counted as a fallback", st)
	}
}

// Concurrent appends through the log form batches (fewer publishes than
// events), every append gets its own sequence, and concurrent retries of
// the same keys store each key once.
func TestGroupCommitConcurrentAppends(t *testing.T) {
	conn := openGroupCommit(t)
	c := newTestCommitter(t, conn)
	const senders, each = 32, 20
	var mu sync.Mutex
	seqs := map[string]map[uint64]bool{}
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ctid := fmt.Sprintf("k%d", (s*each+i)%(senders*each/2)) // every key sent twice
				p := pend(t, ctid)
				seq, _, err := c.append(context.Background(), p.subject, p.typ, p.raw, p.key)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seqs[ctid] == nil {
					seqs[ctid] = map[uint64]bool{}
				}
				seqs[ctid][seq] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for ctid, s := range seqs {
		if len(s) != 1 {
			t.Errorf("%s answered with %d different sequences: %v", ctid, len(s), s)
		}
	}
	stored := storedKeys(t, conn)
	if len(stored) != senders*each/2 {
		t.Fatalf("%d events stored for %d keys", len(stored), senders*each/2)
	}
	st := c.Stats()
	if st.Batches >= st.Appends || st.BatchSize.Count != st.Batches {
		t.Fatalf("stats %+v: %d concurrent senders formed no batch", st, senders)
	}
	t.Logf("%d events in %d publishes, %d answered from memory", st.Appends, st.Batches, st.Remembered)
}
