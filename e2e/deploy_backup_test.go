package e2e_test

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/internal/node"
	"parley/internal/testkit"
)

// copyBackup copies a stopped node's data directory as docs/deploy.md says
// to back it up: everything but the read models (parley.db and its WAL
// files, rebuilt from the log) and nats.url (written at each start).
func copyBackup(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if strings.HasPrefix(rel, "parley.db") || strings.HasPrefix(rel, "parley-v") || rel == "nats.url" {
			return nil
		}
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A backup of the log alone (the data directory without the read models)
// restores everything: a node started on it rebuilds its read models from
// the log and answers exactly as the original did.
func TestBackupWithoutTheReadModelsRestoresEverything(t *testing.T) {
	env := testkit.Start(t)
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := createConv(t, env, alice, "backup", "bob", "carol")
	var last string
	for i := range 12 {
		last = sendMsg(t, env, alice, conv, "before the backup", temp(i)).ID
		if i == 4 {
			markRead(t, env, bob, conv, last)
		}
	}
	sendMsg(t, env, bob, conv, "a reply", "reply")
	answers := func(e *testkit.Env) [][]byte {
		return [][]byte{
			e.MustDo(200, "GET", "/api/conversations", bob, nil, nil).Body,
			e.MustDo(200, "GET", "/api/conversations", alice, nil, nil).Body,
			e.MustDo(200, "GET", "/api/messages/"+conv, bob, nil, nil).Body,
			e.MustDo(200, "GET", "/api/messages/"+conv+"/"+last+"/reads", alice, nil, nil).Body,
		}
	}
	before := answers(env)
	if !bytes.Contains(before[0], []byte(`"unread_count":7`)) {
		t.Fatalf("bob's list before the backup: %s (want 7 unread: 12 sent, 5 read)", before[0])
	}
	env.Stop()

	backup := t.TempDir()
	copyBackup(t, env.Config.DataDir, backup)
	if _, err := os.Stat(filepath.Join(backup, "parley.db")); !os.IsNotExist(err) {
		t.Fatalf("the backup holds parley.db (%v): it must be rebuilt, not restored", err)
	}
	restored := testkit.Start(t, func(c *node.Config) { c.DataDir = backup })
	testkit.WaitFor(t, 30*time.Second, "the restored node to answer as the original", func() bool {
		for i, a := range answers(restored) {
			if !bytes.Equal(a, before[i]) {
				return false
			}
		}
		return true
	})
}
