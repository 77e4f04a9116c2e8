package projections

import (
	"context"
	"fmt"
	"testing"
	"time"

	"parley/engine"
)

// searchRig is a database with a live projector whose log is a channel.
type searchRig struct {
	t    *testing.T
	db   *DB
	feed chan engine.Event
	seq  uint64
	stop func()
}

// startSearchRig opens the database at path and runs a live projector on it.
func startSearchRig(t *testing.T, db *DB) *searchRig {
	t.Helper()
	r := &searchRig{t: t, db: db, feed: make(chan engine.Event, 1000), seq: db.Applied()}
	ctx, cancel := context.WithCancel(context.Background())
	tail := func(ctx context.Context, from uint64, out chan<- engine.Event) error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case ev := <-r.feed:
				select {
				case out <- ev:
				case <-ctx.Done():
					return nil
				}
			}
		}
	}
	done := make(chan error, 1)
	go func() { done <- NewProjector(db, tail, ProjectorConfig{}).Run(ctx) }()
	r.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("projector: %v", err)
		}
	}
	t.Cleanup(func() {
		if r.stop != nil {
			r.stop()
		}
	})
	return r
}

// event makes the next event of the rig's log.
func nextEvent(t *testing.T, seq *uint64, typ engine.EventType, conv, actor string, data any) engine.Event {
	t.Helper()
	*seq++
	ev, err := engine.NewEvent(typ, conv, actor, applyBase.Add(time.Duration(*seq)*time.Second), data)
	if err != nil {
		t.Fatal(err)
	}
	ev.Seq = *seq
	return ev
}

// send feeds events to the projector and waits until it has applied them.
func (r *searchRig) send(evs ...engine.Event) {
	r.t.Helper()
	for _, ev := range evs {
		r.feed <- ev
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.db.WaitApplied(ctx, evs[len(evs)-1].Seq); err != nil {
		r.t.Fatalf("applying through seq %d: %v", evs[len(evs)-1].Seq, err)
	}
}

// searchSeqs is what Search finds for alice, newest first.
func searchSeqs(t *testing.T, db *DB, text string) []uint64 {
	t.Helper()
	expr, ok := engine.MatchExpression(text)
	if !ok {
		t.Fatalf("no expression for %q", text)
	}
	hits, _, err := db.Search(context.Background(), engine.SearchRequest{UserID: "alice", MatchExpr: expr, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, h := range hits {
		out = append(out, h.Message.Seq)
	}
	return out
}

// indexed is what the index itself holds for a word, without asking the
// projector to catch up first.
func indexed(t *testing.T, db *DB, word string) []uint64 {
	t.Helper()
	rows, err := db.wr().Query(`SELECT -rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid`, word)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var s uint64
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// checkSearchIndex runs FTS5's integrity check; with content, it also
// compares the index with every message's body (so every message must be
// indexed).
func checkSearchIndex(t *testing.T, db *DB, content bool) {
	t.Helper()
	rank := 0
	if content {
		rank = 1
	}
	if _, err := db.wr().Exec(`INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', ?)`, rank); err != nil {
		t.Fatalf("search index: %v", err)
	}
}

// The search index follows the projector in batches: a message applied
// without a live projector (a backlog) is indexed when one starts, an edit
// of a message not yet indexed leaves the index alone (its batch indexes the
// new body), a new message reaches the index on its own within the linger,
// a search finds what was applied before it at once, and a burst larger
// than a batch is indexed whole. The index stays consistent with the bodies.
func TestSearchIndexFollowsInBatches(t *testing.T) {
	ctx := context.Background()
	db := openApplyDB(t)
	var seq uint64
	conv := "01KM00000000000000000000C1"
	created := nextEvent(t, &seq, engine.ConversationCreated, conv, "alice", engine.ConversationCreatedData{Kind: "group", ParticipantIDs: []string{"alice", "bob"}})
	apple := nextEvent(t, &seq, engine.MessageSent, conv, "alice", engine.MessageSentData{Body: "apple pie", ClientTempID: "t1"})
	pear := nextEvent(t, &seq, engine.MessageSent, conv, "bob", engine.MessageSentData{Body: "pear tart", ClientTempID: "t2"})
	edit := nextEvent(t, &seq, engine.MessageEdited, conv, "bob", engine.MessageEditedData{MessageID: pear.ID.String(), Body: "plum tart"})

	// Applied with no live projector: nothing reaches the index, and the
	// edit of the unindexed message does not touch it.
	p := NewProjector(db, nil, ProjectorConfig{})
	if err := p.ApplyBatch(ctx, []engine.Event{created, apple, pear, edit}); err != nil {
		t.Fatal(err)
	}
	p.cache.close()
	if got := indexed(t, db, "apple"); len(got) != 0 {
		t.Fatalf("indexed before any projector ran: %v", got)
	}
	checkSearchIndex(t, db, false)

	// A live projector indexes the backlog, with the edited body.
	r := startSearchRig(t, db)
	r.seq = seq
	deadline := time.Now().Add(10 * time.Second)
	for len(indexed(t, db, "plum")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the backlog was not indexed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := indexed(t, db, "pear"); len(got) != 0 {
		t.Fatalf("the body before the edit is indexed: %v", got)
	}
	if got := fmt.Sprint(indexed(t, db, "apple")); got != fmt.Sprint([]uint64{apple.Seq}) {
		t.Fatalf("apple: %v", got)
	}

	// A new message reaches the index without a search asking.
	cherry := nextEvent(t, &r.seq, engine.MessageSent, conv, "alice", engine.MessageSentData{Body: "cherry cake", ClientTempID: "t3"})
	r.send(cherry)
	for len(indexed(t, db, "cherry")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a new message did not reach the index on its own")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// An edit of an indexed message replaces its entry at once.
	r.send(nextEvent(t, &r.seq, engine.MessageEdited, conv, "alice", engine.MessageEditedData{MessageID: cherry.ID.String(), Body: "cherry crumble"}))
	if got := fmt.Sprint(indexed(t, db, "crumble"), indexed(t, db, "cake")); got != fmt.Sprintf("[%d] []", cherry.Seq) {
		t.Fatalf("after editing an indexed message, crumble and cake: %s", got)
	}

	// A search finds what was applied before it, at once.
	for i := range 3 {
		date := nextEvent(t, &r.seq, engine.MessageSent, conv, "bob", engine.MessageSentData{Body: fmt.Sprint("date loaf ", i), ClientTempID: fmt.Sprint("d", i)})
		r.send(date)
		if got := searchSeqs(t, db, "date"); len(got) != i+1 || got[0] != date.Seq {
			t.Fatalf("search right after message %d: %v", i, got)
		}
	}

	// A burst larger than a batch.
	var burst []engine.Event
	for i := range 3*searchBatchRows + 7 {
		burst = append(burst, nextEvent(t, &r.seq, engine.MessageSent, conv, "alice", engine.MessageSentData{Body: fmt.Sprint("fig roll ", i), ClientTempID: fmt.Sprint("f", i)}))
	}
	r.send(burst...)
	if got := searchSeqs(t, db, "fig"); len(got) != 50 || got[0] != burst[len(burst)-1].Seq {
		t.Fatalf("the burst's newest hits: %d, first %v", len(got), got[:min(1, len(got))])
	}
	if got := len(indexed(t, db, "fig")); got != len(burst) {
		t.Fatalf("%d of the burst's %d messages indexed", got, len(burst))
	}
	var mark uint64
	if err := db.wr().QueryRow(`SELECT seq FROM search_progress`).Scan(&mark); err != nil || mark != r.seq {
		t.Fatalf("search mark %d (%v), want %d", mark, err, r.seq)
	}
	r.stop()
	r.stop = nil
	checkSearchIndex(t, db, true)
}
