package projections

import (
	"context"
	"path/filepath"
	"testing"

	"parley/internal/benchonce"
)

// BenchmarkSQLiteInsertCeiling is InsertCeiling as a Go benchmark.
func BenchmarkSQLiteInsertCeiling(b *testing.B) {
	d, err := InsertCeiling(context.Background(), filepath.Join(b.TempDir(), "c.db"), b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/d.Seconds(), "rows/s")
}

// The projector's benchmarks still run (once each; CI runs tests, not
// benchmarks).
func TestBenchmarksRun(t *testing.T) {
	benchonce.Run(t, "BenchmarkSQLiteInsertCeiling", BenchmarkSQLiteInsertCeiling)
	benchonce.Run(t, "BenchmarkApplyBatch", BenchmarkApplyBatch)
	benchonce.Run(t, "BenchmarkApplySmallBatches", BenchmarkApplySmallBatches)
}
