package streams

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// The syncer's directory watch: a round after a quiet spell looks at
// nothing but the open block, and every block created or replaced shows in
// the next round.
func TestBlockSyncerWatchesItsDirectory(t *testing.T) {
	ctx := context.Background()
	s, blk := syncerOnOneBlock(t)
	if !s.watch.usable() {
		t.Fatal("after the first round the syncer does not watch its directory")
	}
	if s.watch.changed() {
		t.Fatal("the watch reports a change nobody made")
	}
	// A quiet round does not look at the directory.
	looks := s.looks
	if err := s.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if s.looks != looks {
		t.Fatal("a round looked at the directory although nothing changed in it")
	}
	// New blocks, each synced by the first round after it appeared.
	for i := 2; i <= 40; i++ {
		if err := os.WriteFile(blk(i), []byte("b"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := s.sync(ctx); err != nil {
			t.Fatal(err)
		}
		if s.curIdx != i {
			t.Fatalf("block %d was created, the syncer holds %d", i, s.curIdx)
		}
	}
	// Writes into the open block are no change of the directory.
	f, err := os.OpenFile(blk(40), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("more"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if s.watch.changed() {
		t.Fatal("a write into a block counts as a change of the directory")
	}
	// A block rewritten under its name (as a compaction does): the next
	// round fsyncs the new file.
	tmp := blk(40) + ".tmp"
	if err := os.WriteFile(tmp, []byte("c"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, blk(40)); err != nil {
		t.Fatal(err)
	}
	if err := s.sync(ctx); err != nil {
		t.Fatal(err)
	}
	a, _ := s.cur.Stat()
	b, _ := os.Stat(blk(40))
	if !os.SameFile(a, b) {
		t.Fatal("the syncer still holds the block that was replaced")
	}
	if s.watch.changed() {
		t.Fatal("the round left events unread")
	}
	// After close a round is refused instead of watching again.
	s.close()
	if err := s.sync(ctx); err != errSyncerClosed {
		t.Fatalf("a round after close: %v", err)
	}
}

// A round whose look fails keeps the look owed: the watch's events are
// gone, and the next round still finds the block that the failed look
// missed, instead of fsyncing the old one.
func TestBlockSyncerLookFailureIsNotForgotten(t *testing.T) {
	ctx := context.Background()
	s, blk := syncerOnOneBlock(t)
	if err := os.WriteFile(blk(2), []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("too many open files")
	openBlock = func(string) (*os.File, error) { return nil, failed }
	err := s.sync(ctx)
	openBlock = os.Open
	if !errors.Is(err, failed) {
		t.Fatalf("a round whose probe failed answered %v", err)
	}
	if err := s.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if s.curIdx != 2 {
		t.Fatalf("after the failed look the syncer holds block %d, the server writes block 2", s.curIdx)
	}
}

// syncerOnOneBlock is a syncer over a temp directory holding block 1, after
// its first round; blk names block i there.
func syncerOnOneBlock(t *testing.T) (*blockSyncer, func(int) string) {
	t.Helper()
	dir := t.TempDir()
	blk := func(i int) string { return filepath.Join(dir, strconv.Itoa(i)+".blk") }
	if err := os.WriteFile(blk(1), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newBlockSyncer(dir)
	t.Cleanup(s.close)
	if err := s.sync(context.Background()); err != nil || s.curIdx != 1 {
		t.Fatalf("first round: block %d, %v", s.curIdx, err)
	}
	return s, blk
}
