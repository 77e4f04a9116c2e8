package projections

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"parley/engine"
)

// The send check answers from memory only when it is certain: an earlier
// send of a key (applied before the index was built, or after) is always
// found in SQLite, a member removed is refused at once, and a member's new
// key skips SQLite once the membership is known.
func TestSendCheckFromMemory(t *testing.T) {
	ctx := context.Background()
	db := openApplyDB(t)
	var seq uint64
	conv := "01KM00000000000000000000C2"
	before := []engine.Event{
		nextEvent(t, &seq, engine.ConversationCreated, conv, "alice", engine.ConversationCreatedData{Kind: "group", ParticipantIDs: []string{"alice", "bob"}}),
		nextEvent(t, &seq, engine.MessageSent, conv, "alice", engine.MessageSentData{Body: "hello", ClientTempID: "t1"}),
	}
	p := NewProjector(db, nil, ProjectorConfig{})
	if err := p.ApplyBatch(ctx, before); err != nil {
		t.Fatal(err)
	}
	p.cache.close()
	r := startSearchRig(t, db)
	r.seq = seq
	deadline := time.Now().Add(10 * time.Second)
	for db.sends.sent.Load() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the send index was not built")
		}
		time.Sleep(5 * time.Millisecond)
	}
	check := func(user, ctid string, wantMember bool, wantSeq uint64, wantFast bool) {
		t.Helper()
		fast := db.sends.fast.Load()
		member, m, err := db.SendCheck(ctx, conv, user, ctid)
		if err != nil {
			t.Fatal(err)
		}
		var got uint64
		if m != nil {
			got = m.Seq
		}
		if member != wantMember || got != wantSeq {
			t.Fatalf("%s %s: member %v, earlier send at seq %d; want %v, %d", user, ctid, member, got, wantMember, wantSeq)
		}
		if isFast := db.sends.fast.Load() > fast; isFast != wantFast {
			t.Fatalf("%s %s: answered from memory %v, want %v", user, ctid, isFast, wantFast)
		}
	}
	check("alice", "t1", true, 2, false)    // sent before the index was built; the membership is confirmed now...
	check("alice", "t3", true, 0, true)     // ...so a new key skips SQLite
	check("mallory", "t1", false, 0, false) // never a member
	sent := nextEvent(t, &r.seq, engine.MessageSent, conv, "alice", engine.MessageSentData{Body: "again", ClientTempID: "t3"})
	r.send(sent)
	check("alice", "t3", true, sent.Seq, false) // sent after the build
	r.send(nextEvent(t, &r.seq, engine.ParticipantRemoved, conv, "alice", engine.ParticipantData{UserID: "alice"}))
	check("alice", "t4", false, 0, false)
	check("bob", "b1", true, 0, false)
	check("bob", "b2", true, 0, true)
}

// The filter has no false negatives and about 1 % false positives at its
// capacity.
func TestBloomFilter(t *testing.T) {
	const n = 100000
	b := newBloom(n)
	for i := range n {
		b.add(sendKeyHash("c", "u", fmt.Sprint(i)))
	}
	for i := range n {
		if !b.has(sendKeyHash("c", "u", fmt.Sprint(i))) {
			t.Fatalf("key %d added but not found", i)
		}
	}
	fp := 0
	for i := range n {
		if b.has(sendKeyHash("c", "u", fmt.Sprint("other-", i))) {
			fp++
		}
	}
	if rate := float64(fp) / n; rate > 0.02 {
		t.Fatalf("false positives %.3f, want about 0.01", rate)
	}
	if b.full() {
		t.Fatal("full at its capacity")
	}
	b.add(1)
	if !b.full() {
		t.Fatal("not full past its capacity")
	}
}

// A full filter is replaced by one larger build, however many commits ask
// meanwhile, holding every key; a swap to another file forgets it all.
func TestSendIndexGrowsOnceAndForgetsOnSwap(t *testing.T) {
	ctx := context.Background()
	db := openApplyDB(t)
	var seq uint64
	conv := "01KM00000000000000000000C3"
	evs := []engine.Event{nextEvent(t, &seq, engine.ConversationCreated, conv, "alice", engine.ConversationCreatedData{Kind: "group", ParticipantIDs: []string{"alice", "bob"}})}
	for i := range 50 {
		evs = append(evs, nextEvent(t, &seq, engine.MessageSent, conv, "alice", engine.MessageSentData{Body: "hi", ClientTempID: fmt.Sprint("k", i)}))
	}
	p := NewProjector(db, nil, ProjectorConfig{})
	if err := p.ApplyBatch(ctx, evs); err != nil {
		t.Fatal(err)
	}
	p.cache.close()
	s := &db.sends
	full := newBloom(1)
	full.add(1)
	full.add(2)
	s.sent.Store(full)
	logger := slog.New(slog.DiscardHandler)
	for range 20 {
		s.ensureBuilt(ctx, db, logger)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.sent.Load() == full {
		if time.Now().After(deadline) {
			t.Fatal("the full filter was not replaced")
		}
		time.Sleep(time.Millisecond)
	}
	if n := s.builds.Load(); n != 1 {
		t.Fatalf("%d builds for one full filter", n)
	}
	f := s.sent.Load()
	for i := range 50 {
		if !f.has(sendKeyHash(conv, "alice", fmt.Sprint("k", i))) {
			t.Fatalf("key k%d missing from the new filter", i)
		}
	}
	if f.full() {
		t.Fatal("the new filter is full")
	}
	s.rememberMember(conv, "alice", s.removalCount())
	if !s.check(conv, "alice", "new") {
		t.Fatal("a member's new key is not answered from memory")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "rebuilt.db")
	nb, err := OpenBulk(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Rebuild(ctx, nb, sliceReader(evs), 1, uint64(len(evs)), nil); err != nil {
		t.Fatal(err)
	}
	if err := nb.CloseBuilt(ctx, Version); err != nil {
		t.Fatal(err)
	}
	if err := db.Swap(ctx, dir, path); err != nil {
		t.Fatal(err)
	}
	if s.check(conv, "alice", "new") || s.sent.Load() != nil {
		t.Fatal("answered from memory after a swap")
	}
}

// A rebuild resumed on a file whose search index an interrupted rebuild
// dropped, while a migration made the body trigger again, applies edits
// and ends with the index whole.
func TestRebuildAfterTheSearchIndexWasDropped(t *testing.T) {
	ctx := context.Background()
	evs := mixedEvents(600, 11)
	db, err := OpenBulk(ctx, filepath.Join(t.TempDir(), "rebuilt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := Rebuild(ctx, db, sliceReader(evs), 1, 300, nil); err != nil {
		t.Fatal(err)
	}
	if err := dropDeferredIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := db.wr().Exec(searchIndex.triggers[0].create); err != nil {
		t.Fatal(err)
	}
	if err := Rebuild(ctx, db, sliceReader(evs), 1, uint64(len(evs)), nil); err != nil {
		t.Fatal(err)
	}
	checkSearchIndex(t, db, true)
}
