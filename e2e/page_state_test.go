package e2e_test

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// TestPageStateRules runs the page's unit tests of its merge rules
// (web/test/state.test.mjs, Node's test runner): an optimistic send
// reconciled once whichever answer comes first, merge by id and
// client_temp_id, edit and delete order, which sources move the delta
// cursor (never a send answer; socket events only once caught up after a
// subscription), read markers and "seen by", and the inbox's freshness
// rules.
func TestPageStateRules(t *testing.T) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the page's unit tests need Node.js 20+")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "--test", "--test-reporter=tap", "test/state.test.mjs")
	cmd.Dir = pageWebDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test test/state.test.mjs: %v\n%s", err, out)
	}
}
