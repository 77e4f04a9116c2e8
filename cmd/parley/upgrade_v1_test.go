package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"parley/internal/node"
	"parley/internal/testkit"
	"parley/projections"
)

// A data directory written by projection version 1 (testdata/v1: a random
// workload's log and read model, and every answer the API then gave each
// user, recorded by that version) upgrades without downtime: the node
// converts the old database in place and serves the same answers from it
// at once, rebuilds version 2 from the log in the background, swaps it in,
// still gives the same answers, and verify proves it equal to the log.
func TestUpgradeFromVersion1DataDir(t *testing.T) {
	dir := t.TempDir()
	untar(t, "testdata/v1/data.tar.gz", dir)
	want := readAnswers(t, "testdata/v1/answers.json.gz")

	// Held at version 1: the converted database serves as it is.
	env := testkit.Start(t, func(c *node.Config) { c.DataDir = dir; c.ProjectionVersion = 1 })
	if started, _ := env.Node.Upgrading(false); started {
		t.Fatal("a rebuild started while the node builds version 1")
	}
	compareAnswers(t, "the converted version-1 database", env, want)
	env.Stop()

	env.Config.ProjectionVersion = 0
	env.Restart()
	if started, _ := env.Node.Upgrading(false); !started {
		t.Fatal("a version-1 database did not start a background rebuild")
	}
	if _, err := env.Node.Upgrading(true); err != nil {
		t.Fatalf("background rebuild: %v", err)
	}
	if v, err := env.Node.DB().BuiltVersion(t.Context()); err != nil || v != projections.Version {
		t.Fatalf("built version after the upgrade = %d, %v; want %d", v, err, projections.Version)
	}
	compareAnswers(t, "the rebuilt database", env, want)
	out, err := runCmd(t, "verify", "--data", dir)
	if err != nil || !strings.Contains(out, "verify: equal") {
		t.Fatalf("verify after the upgrade: %v\n%s", err, out)
	}
}

// compareAnswers asks every recorded question again and compares the JSON.
func compareAnswers(t *testing.T, what string, env *testkit.Env, want map[string]json.RawMessage) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		user, path, _ := strings.Cut(k, " ")
		r := env.Do("GET", path, env.Token(user), nil)
		var got, exp any
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Fatalf("%s: %s for %s: %d %s", what, path, user, r.Status, r.Body)
		}
		if err := json.Unmarshal(want[k], &exp); err != nil {
			t.Fatal(err)
		}
		got = withoutAddedFields(got, exp)
		if !reflect.DeepEqual(got, exp) {
			t.Fatalf("%s answers %s for %s:\n%s\nversion 1 answered:\n%s", what, path, user, r.Body, want[k])
		}
	}
}

// addedSinceV1 are the fields answers gained after version 1, with the
// value they have for data written then (no mentions, no settings).
var addedSinceV1 = map[string]any{"mention_count": 0.0, "muted": false, "archived": false, "pinned": false}

// withoutAddedFields drops from got the fields of addedSinceV1 that exp
// lacks, where they hold their version-1 value; any other difference stays.
func withoutAddedFields(got, exp any) any {
	switch g := got.(type) {
	case map[string]any:
		e, _ := exp.(map[string]any)
		for k, v := range g {
			if _, had := e[k]; !had {
				if def, added := addedSinceV1[k]; added && reflect.DeepEqual(v, def) {
					delete(g, k)
					continue
				}
			}
			g[k] = withoutAddedFields(v, e[k])
		}
	case []any:
		e, _ := exp.([]any)
		for i := range g {
			var ei any
			if i < len(e) {
				ei = e[i]
			}
			g[i] = withoutAddedFields(g[i], ei)
		}
	}
	return got
}

func readAnswers(t *testing.T, path string) map[string]json.RawMessage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]json.RawMessage
	if err := json.NewDecoder(zr).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if len(out) < 100 {
		t.Fatalf("%s holds %d answers", path, len(out))
	}
	return out
}

// untar unpacks a .tar.gz of regular files and directories into dir.
func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, filepath.Clean(dir)) {
			t.Fatalf("%s escapes the directory", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
