package main

import (
	"context"
	"os"
	"testing"
)

// TestMain lets the test binary stand in for the parley binary when a test
// starts it as a child process (parley bench starts `serve` and `replay`
// that way): with PARLEY_TEST_AS_MAIN set it runs the command line instead
// of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("PARLEY_TEST_AS_MAIN") == "1" {
		if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
			os.Stderr.WriteString("parley: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
