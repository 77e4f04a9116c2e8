package projections

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// walIndex reads the WAL-index (the -shm file) of the database at path: the
// last frame committed to the WAL (mxFrame) and how many frames have been
// copied into the database file (nBackfill). Offsets are SQLite's documented
// WAL-index format (sqlite.org/walformat.html): mxFrame is the u32 at byte
// 16 of the header, nBackfill the first u32 after the header's two 48-byte
// copies, both in the machine's byte order.
func walIndex(t *testing.T, path string) (mxFrame, nBackfill uint32) {
	t.Helper()
	b, err := os.ReadFile(path + "-shm")
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 100 {
		t.Fatalf("WAL-index of %d bytes", len(b))
	}
	return binary.NativeEndian.Uint32(b[16:]), binary.NativeEndian.Uint32(b[96:])
}

// The projector's commits are copied into the database file in the
// background: the writer's own checkpoint waits for 4,000 pages, far more
// than these batches write, so without the checkpointer nothing is copied.
func TestCommitsAreCheckpointedInTheBackground(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := NewProjector(db, nil, ProjectorConfig{})
	defer p.cache.close()
	evs := mixedEvents(300, 7)
	for i := 0; i < len(evs); i += 30 {
		if err := p.ApplyBatch(ctx, evs[i:i+30]); err != nil {
			t.Fatal(err)
		}
	}
	if mx, _ := walIndex(t, path); mx == 0 || mx >= 4000 {
		t.Fatalf("the WAL holds %d frames; the test needs some, and fewer than the writer's own threshold", mx)
	}
	// Polled with a deadline (testkit.WaitFor would be an import cycle).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mx, nb := walIndex(t, path)
		if mx > 0 && nb == mx {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s, %d of the WAL's %d frames are copied into the database file", nb, mx)
		}
	}
}
