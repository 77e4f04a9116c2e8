// Package benchonce runs a benchmark once inside an ordinary test. CI runs
// the test suite, not the benchmarks, so without it a benchmark that stops
// working (a setup that no longer fits the server, a feed that blocks)
// goes unnoticed until someone measures.
package benchonce

import (
	"flag"
	"testing"
)

// Run runs bench with b.N = 1 and fails t unless it ran to the end. A
// benchmark that fails, skips or has sub-benchmarks does not report an
// end this way, so give Run each sub-benchmark's own function. The
// benchmark's output is not shown: run it with go test -bench to see it.
// Run changes the test binary's -test.benchtime while it runs, so it must
// not run beside a parallel test that benchmarks too.
func Run(t *testing.T, name string, bench func(*testing.B)) {
	t.Helper()
	f := flag.Lookup("test.benchtime")
	if f == nil {
		t.Fatal("benchonce: no -test.benchtime flag (not a test binary?)")
	}
	old := f.Value.String()
	if err := f.Value.Set("1x"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Value.Set(old) }()
	if r := testing.Benchmark(bench); r.N != 1 {
		t.Fatalf("%s did not run to the end; run go test -run '^$' -bench '%s' in its package to see why", name, name)
	}
}
