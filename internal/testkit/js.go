package testkit

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

// Chromium returns the path of the chromium on PATH, which the browser
// tests drive (.ci/run installs Debian's when `command -v chromium` finds
// none; tests never download a browser), or skips the test when there is
// none.
func Chromium(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		tb.Skipf("chromium is not on PATH (apt-get install chromium; .ci/run does): skipping this browser test: %v", err)
	}
	return path
}

var npmMu sync.Mutex // one npm ci at a time in this process

// NodeModules returns the node binary after making sure dir's node_modules
// matches its package-lock.json (running `npm ci` there when it does not),
// or skips the test when Node.js is absent.
func NodeModules(tb testing.TB, dir string) string {
	tb.Helper()
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		tb.Skip("node is not installed: this test drives real JavaScript packages and needs Node.js 20+ and npm")
	}
	npmMu.Lock()
	defer npmMu.Unlock()
	if why := modulesStale(dir); why != "" {
		tb.Logf("npm ci in %s (%s)", dir, why)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
		if why := modulesStale(dir); why != "" {
			tb.Fatalf("after npm ci in %s, %s", dir, why)
		}
	}
	return nodeBin
}

// modulesStale says why dir/node_modules does not match package-lock.json
// ("" when every locked, non-optional package is installed at its locked
// version).
func modulesStale(dir string) string {
	raw, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
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
		b, err := os.ReadFile(filepath.Join(dir, path, "package.json"))
		if err != nil {
			return path + " is missing"
		}
		if json.Unmarshal(b, &installed) != nil || installed.Version != p.Version {
			return path + " is not at its locked version " + p.Version
		}
	}
	return ""
}
