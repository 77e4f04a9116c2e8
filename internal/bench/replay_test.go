package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"parley/internal/profiling"
	"parley/projections"
	"parley/streams"
)

// BenchmarkReplay rebuilds the read models from a log of E events (default
// 1,000,000; PARLEY_BENCH_EVENTS overrides) of a typical mix: 80 % sends,
// 15 % read markers, 5 % membership changes and edits. It reports events/s
// and the process's peak resident memory.
func BenchmarkReplay(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("PARLEY_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	dir := b.TempDir()
	conn, err := streams.Open(ctx, streams.Config{DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if err := fillLog(ctx, conn.Log(), n); err != nil {
		b.Fatal(err)
	}
	_, last, err := conn.Log().Bounds(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		db, err := projections.OpenBulk(ctx, filepath.Join(dir, fmt.Sprint("rebuilt", i, ".db")))
		if err != nil {
			b.Fatal(err)
		}
		if err := projections.Rebuild(ctx, db, conn.Log().ReadRange, 1, last, nil); err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
	b.ReportMetric(float64(last)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(profiling.PeakRSSKiB())/1024, "peak_rss_MiB")
}
