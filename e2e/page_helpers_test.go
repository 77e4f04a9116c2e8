package e2e_test

import (
	"testing"

	"parley/internal/testkit"
)

// pageWebDir is the page's npm project: sources, lock file, build script
// and browser test.
const pageWebDir = "../web"

// pageNode returns the node binary with web/node_modules installed as the
// lock file says, or skips the test when Node.js is absent.
func pageNode(t *testing.T) string {
	t.Helper()
	return testkit.NodeModules(t, pageWebDir)
}
