package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A release build says its version and commit (set with -ldflags, as
// scripts/release does); a plain build says "dev".
func TestVersionTellsTheReleaseAndTheCommit(t *testing.T) {
	if out, err := runCmd(t, "--version"); err != nil || !strings.HasPrefix(out, "parley dev (commit ") {
		t.Fatalf("parley --version of a plain build = %q %v", out, err)
	}
	bin := filepath.Join(t.TempDir(), "parley")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7 -X main.commit=0123abcd", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if line := strings.TrimSpace(string(out)); !strings.HasPrefix(line, "parley v9.8.7 (commit 0123abcd") {
		t.Fatalf("--version = %q", line)
	}
}
