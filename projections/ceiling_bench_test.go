package projections

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkSQLiteInsertCeiling is InsertCeiling as a Go benchmark.
func BenchmarkSQLiteInsertCeiling(b *testing.B) {
	d, err := InsertCeiling(context.Background(), filepath.Join(b.TempDir(), "c.db"), b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/d.Seconds(), "rows/s")
}
