package projections

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"parley/engine"
)

// mixedEvents makes a seeded stream of n events over a few group
// conversations: sends, read markers, edits, deletes, joins and leaves, with
// duplicates and stale commands among them, numbered from seq 1.
func mixedEvents(n int, seed uint64) []engine.Event {
	r := rand.New(rand.NewPCG(seed, 3))
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type conv struct {
		id      string
		members []string
		msgs    []string // message ids, oldest first
	}
	var convs []*conv
	var out []engine.Event
	add := func(ev engine.Event, err error) {
		if err != nil {
			panic(err)
		}
		ev.Seq = uint64(len(out) + 1)
		out = append(out, ev)
	}
	for len(out) < n {
		at = at.Add(time.Second)
		if len(convs) < 6 && (len(convs) == 0 || r.IntN(20) == 0) {
			c := &conv{id: fmt.Sprintf("%026d", len(convs)), members: []string{"u0", "u1", "u2"}}
			convs = append(convs, c)
			add(engine.NewEvent(engine.ConversationCreated, c.id, "u0", at,
				engine.ConversationCreatedData{Kind: engine.KindGroup, Title: "t", ParticipantIDs: c.members}))
			continue
		}
		c := convs[r.IntN(len(convs))]
		actor := fmt.Sprint("u", r.IntN(5)) // u3 and u4 are sometimes not members
		pick := func() string {
			if len(c.msgs) == 0 {
				return "01M8AF3HSW2EFS4JBRP0000000" // unknown
			}
			return c.msgs[r.IntN(len(c.msgs))]
		}
		switch p := r.IntN(100); {
		case p < 55:
			tmp := fmt.Sprint("t", r.IntN(400)) // repeats: duplicate sends
			ev, err := engine.NewEvent(engine.MessageSent, c.id, actor, at, engine.MessageSentData{Body: "hi", ClientTempID: tmp})
			add(ev, err)
			c.msgs = append(c.msgs, ev.ID.String())
		case p < 80:
			add(engine.NewEvent(engine.ConversationRead, c.id, actor, at, engine.ConversationReadData{MessageID: pick()}))
		case p < 86:
			add(engine.NewEvent(engine.MessageEdited, c.id, actor, at, engine.MessageEditedData{MessageID: pick(), Body: "edited"}))
		case p < 91:
			add(engine.NewEvent(engine.MessageDeleted, c.id, actor, at, engine.MessageDeletedData{MessageID: pick()}))
		case p < 96:
			add(engine.NewEvent(engine.ParticipantAdded, c.id, actor, at, engine.ParticipantData{UserID: fmt.Sprint("u", 3+r.IntN(2))}))
		default:
			add(engine.NewEvent(engine.ParticipantRemoved, c.id, actor, at, engine.ParticipantData{UserID: actor}))
		}
	}
	return out
}

// applyInBatches projects evs into a fresh database in batches of the
// given sizes (cycled), starting a new projector (with empty memory) every
// restartEvery batches.
func applyInBatches(t *testing.T, evs []engine.Event, sizes []int, restartEvery int) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p := NewProjector(db, nil, ProjectorConfig{})
	for i, b := 0, 0; i < len(evs); b++ {
		if restartEvery > 0 && b > 0 && b%restartEvery == 0 {
			p.cache.close()
			p = NewProjector(db, nil, ProjectorConfig{})
		}
		n := min(sizes[b%len(sizes)], len(evs)-i)
		if err := p.ApplyBatch(ctx, evs[i:i+n]); err != nil {
			t.Fatal(err)
		}
		i += n
	}
	p.cache.close()
	return db
}

// The projector keeps conversations, members and totals in memory across
// batches; whatever the batch sizes and restarts, the read models must come
// out the same as applying the events one by one.
func TestBatchingAndProjectorMemoryDoNotChangeTheResult(t *testing.T) {
	ctx := context.Background()
	evs := mixedEvents(3000, 42)
	want := applyInBatches(t, evs, []int{1}, 0)
	snap, err := want.ReadSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Tx.Rollback()
	if snap.Checkpoint != uint64(len(evs)) {
		t.Fatalf("one-by-one checkpoint %d, want %d", snap.Checkpoint, len(evs))
	}
	var skipped, reads int
	snap.Tx.QueryRowContext(ctx, `SELECT count(*) FROM skipped_events`).Scan(&skipped)
	snap.Tx.QueryRowContext(ctx, `SELECT count(*) FROM message_reads`).Scan(&reads)
	if skipped == 0 || reads == 0 {
		t.Fatalf("the workload exercises too little: %d skipped events, %d receipts", skipped, reads)
	}
	for _, tc := range []struct {
		name         string
		sizes        []int
		restartEvery int
	}{
		{"one batch", []int{len(evs)}, 0},
		{"batches of 7", []int{7}, 0},
		{"mixed sizes", []int{1, 50, 3, 400, 13}, 0},
		{"mixed sizes with restarts", []int{5, 120, 2}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := applyInBatches(t, evs, tc.sizes, tc.restartEvery)
			reports, err := Compare(ctx, snap, got)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range reports {
				if !r.Equal() {
					t.Errorf("%s differs: %d vs %d rows, %v", r.Table, r.LiveRows, r.RebuiltRows, r.Diffs)
				}
			}
		})
	}
}

// A batch that fails half-way (here: a trigger refuses one receipt) is
// rolled back; the projector must forget what it had remembered from that
// batch, so applying it again gives the same read models.
func TestFailedBatchIsForgottenAndRetried(t *testing.T) {
	ctx := context.Background()
	evs := mixedEvents(2000, 7)
	want := applyInBatches(t, evs, []int{1}, 0)
	snap, err := want.ReadSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Tx.Rollback()

	db, err := Open(ctx, filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := NewProjector(db, nil, ProjectorConfig{})
	defer p.cache.close()
	// A read marker late in the batch of events 1000-1249 fails, after the
	// batch has changed counters the projector remembers.
	var failAt uint64
	for _, ev := range evs[1200:] {
		if ev.Type == engine.ConversationRead {
			failAt = ev.Seq
			break
		}
	}
	if _, err := db.wr().ExecContext(ctx, fmt.Sprintf(`CREATE TRIGGER injected BEFORE INSERT ON message_reads
		WHEN NEW.read_seq >= %d BEGIN SELECT RAISE(ABORT, 'injected failure'); END`, failAt)); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for i := 0; i < len(evs); {
		n := min(250, len(evs)-i)
		if err := p.ApplyBatch(ctx, evs[i:i+n]); err != nil {
			failed++
			if failed > 1 {
				t.Fatalf("second failure: %v", err)
			}
			if _, err := db.wr().ExecContext(ctx, `DROP TRIGGER injected`); err != nil {
				t.Fatal(err)
			}
			continue // the same batch again
		}
		i += n
	}
	if failed != 1 {
		t.Fatalf("the injected failure happened %d times, want once (no receipt at or after seq %d?)", failed, failAt)
	}
	reports, err := Compare(ctx, snap, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		if !r.Equal() {
			t.Errorf("%s differs after a failed batch: %v", r.Table, r.Diffs)
		}
	}
}
