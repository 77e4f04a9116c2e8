package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/engine"
	"parley/internal/testkit"
)

// A log that lost acknowledged events (here: its store put back to an
// older copy, as a power loss under --sync interval leaves it) is found at
// start behind the read models. The node moves the read models aside and
// rebuilds them from the log: history answers what the log holds, and
// sends appended after the loss, which reuse the lost sequences, are
// projected and delivered instead of being skipped as already applied.
func TestReadModelsAheadOfTheLogAreRebuilt(t *testing.T) {
	env := testkit.Start(t)
	alice := env.Token("alice")
	conv := createConv(t, env, alice, "", "bob")
	for i := range 3 {
		sendMsg(t, env, alice, conv, "kept", temp(i))
	}
	env.Stop()
	older := t.TempDir()
	copyBackup(t, env.Config.DataDir, older)

	env.Restart()
	for i := 3; i < 8; i++ {
		sendMsg(t, env, alice, conv, "lost", temp(i))
	}
	env.Stop()
	nats := filepath.Join(env.Config.DataDir, "nats")
	if err := os.RemoveAll(nats); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(older, "nats"), nats); err != nil {
		t.Fatal(err)
	}

	env.Restart()
	after := sendMsg(t, env, alice, conv, "after the loss", "after-the-loss")
	var page engine.MessagePage
	testkit.WaitFor(t, 30*time.Second, "history to hold what the log holds", func() bool {
		env.MustDo(200, "GET", "/api/messages/"+conv, alice, nil, &page)
		return len(page.Messages) == 4
	})
	var bodies []string
	for _, m := range page.Messages {
		bodies = append(bodies, m.Body)
	}
	if got := strings.Join(bodies, ","); got != "kept,kept,kept,after the loss" {
		t.Fatalf("history after the rebuild: %s, want the 3 kept and the send after the loss", got)
	}
	if page.Messages[3].ID != after.ID {
		t.Fatalf("newest message %s, want the send after the loss %s", page.Messages[3].ID, after.ID)
	}
	aside, _ := filepath.Glob(filepath.Join(env.Config.DataDir, "*.ahead-*"))
	if len(aside) == 0 {
		t.Fatal("the read models that were ahead were not kept aside")
	}
}
