package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `parley app` keeps an existing data dir's key and secret, generates the
// id once, and prints the same app on every run.
func TestAppCommand(t *testing.T) {
	dir := t.TempDir()
	for name, v := range map[string]string{"app.key": "existingkey\n", "app.secret": "existingsecret\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	print := func() string {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"app", "--data", dir}, &out, &errOut); err != nil {
			t.Fatalf("parley app: %v (%s)", err, errOut.String())
		}
		return out.String()
	}
	first := print()
	if !strings.Contains(first, "REVERB_APP_KEY=existingkey\n") || !strings.Contains(first, "REVERB_APP_SECRET=existingsecret\n") || !strings.Contains(first, "REVERB_APP_ID=") {
		t.Fatalf("parley app printed %q", first)
	}
	if again := print(); again != first {
		t.Fatalf("second run printed %q, first %q", again, first)
	}
}
