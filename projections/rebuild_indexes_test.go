package projections

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"parley/engine"
)

// sliceReader serves evs as a RangeReader does the log.
func sliceReader(evs []engine.Event) RangeReader {
	return func(ctx context.Context, from, to uint64, batch int, fn func([]engine.Event) error) error {
		for i := from; i <= to; i += uint64(batch) {
			end := min(to, i+uint64(batch)-1)
			if err := fn(evs[i-1 : end]); err != nil {
				return err
			}
		}
		return nil
	}
}

// schema lists the database's tables, indexes, views and triggers with their
// definitions, sorted.
func schema(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func indexExists(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// A large rebuild drops the deferred indexes while it applies and builds
// them at its end: the indexes are gone in between, the finished database
// has the schema the migrations make, and the read models are those of the
// live projector.
func TestRebuildDefersIndexesAndKeepsTheSchema(t *testing.T) {
	ctx := context.Background()
	defer func(v uint64) { deferIndexMin = v }(deferIndexMin)
	deferIndexMin = 100
	evs := mixedEvents(3000, 7)
	live := applyInBatches(t, evs, []int{1}, 0)

	db, err := OpenBulk(ctx, filepath.Join(t.TempDir(), "rebuilt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var during []string
	err = Rebuild(ctx, db, sliceReader(evs), 1, uint64(len(evs)), func(done, total uint64, _ time.Duration) {
		for _, ix := range deferredIndexes {
			if indexExists(t, db.wr(), ix.name) {
				during = append(during, ix.name)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(during) > 0 {
		t.Errorf("indexes present while the rebuild applied: %v", during)
	}
	if got, want := schema(t, db.wr()), schema(t, live.wr()); !slices.Equal(got, want) {
		t.Errorf("rebuilt schema differs from the migrated one:\n got %q\nwant %q", got, want)
	}
	snap, err := live.ReadSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Tx.Rollback()
	reports, err := Compare(ctx, snap, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		if !r.Equal() {
			t.Errorf("%s differs: %d vs %d rows, %v", r.Table, r.LiveRows, r.RebuiltRows, r.Diffs)
		}
	}
}

// A rebuild interrupted after it dropped the indexes leaves them missing; the
// next rebuild of that file builds them even when nothing is left to apply,
// and a small rebuild keeps them throughout.
func TestRebuildBuildsIndexesAnInterruptionLeftMissing(t *testing.T) {
	ctx := context.Background()
	evs := mixedEvents(500, 9)
	db, err := OpenBulk(ctx, filepath.Join(t.TempDir(), "rebuilt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := schema(t, db.wr())
	if err := Rebuild(ctx, db, sliceReader(evs), 1, 200, func(uint64, uint64, time.Duration) {
		for _, ix := range deferredIndexes {
			if !indexExists(t, db.wr(), ix.name) {
				t.Errorf("a rebuild of 200 events dropped %s", ix.name)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := dropDeferredIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := Rebuild(ctx, db, sliceReader(evs), 1, 200, nil); err != nil {
		t.Fatal(err)
	}
	if got := schema(t, db.wr()); !slices.Equal(got, want) {
		t.Errorf("schema after the second rebuild:\n got %q\nwant %q", got, want)
	}
}
