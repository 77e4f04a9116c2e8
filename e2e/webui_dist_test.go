package e2e_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"parley/api/webui"
)

// TestWebUIDistUpToDate rebuilds the page from web/ with the locked
// toolchain into a temp dir and compares it byte for byte with the embedded
// api/webui/dist: it fails when someone changed web/src (or the lock file)
// without running `just web`.
func TestWebUIDistUpToDate(t *testing.T) {
	nodeBin := pageNode(t)
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "build.mjs", "--out", out)
	cmd.Dir = pageWebDir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node build.mjs: %v\n%s", err, b)
	}
	built := pageFiles(t, os.DirFS(out))
	embedded := pageFiles(t, webui.Files())
	var names []string
	for name := range built {
		names = append(names, name)
	}
	for name := range embedded {
		if _, ok := built[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		b, inBuild := built[name]
		e, inDist := embedded[name]
		switch {
		case !inDist:
			t.Errorf("%s is built from web/ but missing from api/webui/dist: run `just web`", name)
		case !inBuild:
			t.Errorf("api/webui/dist/%s is no longer built from web/: run `just web`", name)
		case !bytes.Equal(b, e):
			t.Errorf("api/webui/dist/%s is stale (%d bytes, a fresh build has %d): run `just web`", name, len(e), len(b))
		}
	}
	if len(built) == 0 {
		t.Fatal("the build produced no files")
	}
}

// pageFiles reads every file of fsys by slash path.
func pageFiles(t *testing.T, fsys fs.FS) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		files[filepath.ToSlash(p)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
