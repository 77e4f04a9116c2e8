package api_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// pageWebDir is the page's npm project: sources, lock file, build script
// and browser test.
const pageWebDir = "../web"

// pageNodeOnce serialises npm ci between the tests that need web/node_modules.
var pageNodeOnce sync.Mutex

// pageNode returns the node binary with web/node_modules installed as the
// lock file says, or skips the test when Node.js is absent.
func pageNode(t *testing.T) string {
	t.Helper()
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the reference page's build and browser tests need Node.js 20+ and npm")
	}
	pageNodeOnce.Lock()
	defer pageNodeOnce.Unlock()
	if why := pageModulesStale(); why != "" {
		t.Logf("npm ci in %s (%s)", pageWebDir, why)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = pageWebDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", pageWebDir, err, out)
		}
		if why := pageModulesStale(); why != "" {
			t.Fatalf("after npm ci, %s", why)
		}
	}
	return nodeBin
}

// pageModulesStale says why web/node_modules does not match
// package-lock.json ("" when every locked, non-optional package is
// installed at its locked version).
func pageModulesStale() string {
	raw, err := os.ReadFile(filepath.Join(pageWebDir, "package-lock.json"))
	if err != nil {
		return "no package-lock.json: " + err.Error()
	}
	var lock struct {
		Packages map[string]struct {
			Version  string `json:"version"`
			Optional bool   `json:"optional"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(raw, &lock); err != nil {
		return "package-lock.json: " + err.Error()
	}
	for path, p := range lock.Packages {
		if !strings.HasPrefix(path, "node_modules/") || p.Optional {
			continue
		}
		var installed struct {
			Version string `json:"version"`
		}
		b, err := os.ReadFile(filepath.Join(pageWebDir, path, "package.json"))
		if err != nil {
			return path + " is missing"
		}
		if json.Unmarshal(b, &installed) != nil || installed.Version != p.Version {
			return path + " is " + installed.Version + ", locked " + p.Version
		}
	}
	return ""
}
