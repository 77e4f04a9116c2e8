package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/internal/node"
	"parley/internal/testkit"
)

// pageArtifacts is where the browser tests save screenshots (gitignored).
const pageArtifacts = "../artifacts"

// TestPageBrowserRealtime opens the page the node serves at / in headless
// Chromium as alice and bob (two browser contexts, dev sign-in) and checks,
// step by step: conversations appear live with online dots; unread badges
// count up (per conversation and in total, with live reordering) and down
// when bob reads; the read receipt ("Seen by bob"); who is viewing; a
// message sent and received live, shown once on both sides; typing shows and
// clears; edit and delete; bob's socket cut (offline emulation plus the
// server closing it) while alice sends three messages, which after the
// reconnect appear exactly once, in order, from delta; and a send whose
// answer is lost, retried with the same client_temp_id (201, then 200) and
// shown once; then a reply with its quote, a reaction, a mention completed
// from "@al" and highlighted, an image attached and shown, pin, mute and
// archive (back with a new message), and a search whose hit opens its
// conversation.
func TestPageBrowserRealtime(t *testing.T) {
	nodeBin := pageBrowser(t)
	env := rtStart(t, func(c *node.Config) { c.Dev = true })
	ctl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub := env.Node.Hub()
		n := 0
		for _, c := range hub.ClientsOf(r.URL.Query().Get("user")) {
			hub.Disconnect(c)
			n++
		}
		fmt.Fprint(w, n)
	}))
	defer ctl.Close()
	pageRun(t, nodeBin, env, ctl.URL, "realtime", []string{
		"sign_in", "create_and_online", "unread_counts_up", "read_counts_down_and_receipt", "send_and_receive_live",
		"typing_shows_and_clears", "edit_and_delete", "reconnect_catches_up_exactly_once", "lost_answer_retries_with_same_client_temp_id",
		"reply_and_react", "mention_autocomplete", "attach_an_image", "pin_mute_archive", "search",
	})
}

// TestPageBrowserPolling runs the page against a node with realtime off:
// it says "polling", finds new conversations and unread counts by reloading
// the list, and new messages and read receipts by polling delta, each once.
func TestPageBrowserPolling(t *testing.T) {
	nodeBin := pageBrowser(t)
	env := testkit.Start(t, func(c *node.Config) { c.Dev, c.Realtime = true, false })
	pageRun(t, nodeBin, env, "", "polling", []string{"sign_in_polling", "poll_inbox_and_delta"})
}

// pageBrowser skips without Chromium or Node.js and returns node.
func pageBrowser(t *testing.T) string {
	t.Helper()
	testkit.Chromium(t)
	return pageNode(t)
}

// pageRun runs web/test/browser.mjs for one scenario and checks that every
// step in want finished.
func pageRun(t *testing.T, nodeBin string, env *testkit.Env, control, scenario string, want []string) {
	t.Helper()
	artifacts, err := filepath.Abs(pageArtifacts)
	if err != nil {
		t.Fatal(err)
	}
	params, _ := json.Marshal(map[string]string{
		"base": env.URL(), "control": control, "artifacts": artifacts, "scenario": scenario, "chromium": testkit.Chromium(t),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "test/browser.mjs")
	cmd.Dir = pageWebDir
	cmd.Env = append(os.Environ(), "PARLEY_PAGE_TEST="+string(params))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	done := map[string]bool{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "STEP" {
			done[f[1]] = true
			t.Logf("step %-48s %5s ms", f[1], f[2])
		}
	}
	if runErr != nil {
		t.Fatalf("browser test (%s) failed: %v\n%s\nscreenshots of the failure: %s/page-failure-%s-*.png", scenario, runErr, strings.TrimSpace(stderr.String()), artifacts, scenario)
	}
	for _, s := range want {
		if !done[s] {
			t.Errorf("step %s did not run", s)
		}
	}
	t.Logf("screenshots in %s", artifacts)
}
