package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/engine"
	"parley/internal/diskspace"
	"parley/internal/node"
	"parley/internal/testkit"
)

// mountTmpfs mounts a size-limited tmpfs for the test, or skips saying why
// it cannot (mounting needs root, or a system that allows it).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a full disk needs a size-limited filesystem: mounting a tmpfs needs root (TestFullLogRefusesWritesAndRecoversWithoutARestart covers the log's own limit)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s): TestFullLogRefusesWritesAndRecoversWithoutARestart covers the log's own limit", err, out)
	}
	t.Cleanup(func() { // after the node's own cleanup, registered later
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// A disk that fills while a client sends: the node stays up (the projector
// pauses, the log refuses), every refusal is a 503 or 507 with Retry-After,
// reads and a connected socket keep working and /readyz says why. Once space is freed it recovers
// by itself, no restart (the embedded JetStream, whose store keeps refusing
// after a full disk, is reloaded, and its memory buckets made again, so a
// presence join works), every acknowledged send is there and the read
// models equal the log.
func TestFullDiskDegradesAndRecoversWithoutARestart(t *testing.T) {
	mnt := mountTmpfs(t, "128m")
	env := opsStart(t, func(c *node.Config) {
		c.AppKey, c.AppSecret = rtKey, rtSecret
		c.DataDir = filepath.Join(mnt, "data")
		c.StatsMaxMB, c.LowSpaceMB = 8, 16
		c.ApplyTimeout, c.AppendTimeout = 5*time.Second, time.Second
	})
	alice := env.Token("alice")
	conv := createConv(t, env, alice, "disk", "bob")
	sock := rtDial(t, env) // bob's socket, connected before the disk fills
	sock.subscribe(env, env.Token("bob"), "private-conversation."+conv)

	u, err := diskspace.Of(mnt)
	if err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, u.Free-2<<20)); err != nil { // leave 2 MiB
		t.Fatal(err)
	}
	f.Close()

	body := strings.Repeat("x", 7000)
	stored := map[string]bool{} // temp ids the node said it stored: 201, or 503 not_yet_projected
	var unavailable int
	var slowest time.Duration
	for i := 0; i < 500 && unavailable < 3; i++ {
		start := time.Now()
		r := env.Do("POST", "/api/messages/"+conv, alice, map[string]string{"body": body, "client_temp_id": temp(i)})
		took := time.Since(start)
		switch {
		case r.Status == http.StatusCreated:
			stored[temp(i)] = true
		case r.Status == http.StatusServiceUnavailable && r.ErrorCode() == "not_yet_projected":
			stored[temp(i)] = true
		case (r.Status == http.StatusServiceUnavailable && r.ErrorCode() == "log_unavailable") ||
			(r.Status == http.StatusInsufficientStorage && r.ErrorCode() == "storage_full"):
			if unavailable > 0 {
				slowest = max(slowest, took)
			}
			unavailable++
		default:
			t.Fatalf("send %d on a full disk: %d %s", i, r.Status, r.Body)
		}
		if r.Status != http.StatusCreated && r.Header.Get("Retry-After") == "" {
			t.Errorf("send %d: %d without Retry-After", i, r.Status)
		}
	}
	if unavailable < 3 || len(stored) == 0 {
		t.Fatalf("the disk never filled: %d stored, %d refused", len(stored), unavailable)
	}
	if slowest > time.Second {
		t.Errorf("a refusal after the first took %v", slowest)
	}
	r := env.Do("GET", "/readyz", "", nil)
	var ready map[string]string
	_ = json.Unmarshal(r.Body, &ready)
	if r.Status != http.StatusServiceUnavailable || !strings.Contains("projector_paused log_unavailable storage_full", ready["reason"]) || ready["reason"] == "" {
		t.Errorf("/readyz on a full disk: %d %s", r.Status, r.Body)
	}
	env.MustDo(http.StatusOK, "GET", "/api/conversations", alice, nil, nil) // reads keep working
	// The socket keeps working: alice's typing reaches bob while nothing can be written.
	env.MustDo(http.StatusAccepted, "POST", "/api/messages/"+conv+"/typing", alice, nil, nil)
	sock.nextWhere("client-typing", func(f rtFrame) bool { return f.UserID == "alice" })

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	after := temp(1000)
	testkit.WaitFor(t, 30*time.Second, "a send to succeed after the disk has room", func() bool {
		return env.Do("POST", "/api/messages/"+conv, alice, map[string]string{"body": "after", "client_temp_id": after}).Status/100 == 2
	})
	stored[after] = true
	testkit.WaitFor(t, 30*time.Second, "/readyz to be ready again", func() bool {
		return env.Do("GET", "/readyz", "", nil).Status == http.StatusOK
	})
	// Presence works after the log's restart: joining presence-messaging
	// (which leases a key in the in-memory presence bucket) succeeds.
	a := rtDial(t, env)
	var p rtPresence
	a.subscribe(env, alice, "presence-messaging").decode(t, &p)
	if p.Presence.Hash["alice"] == nil {
		t.Errorf("after the recovery alice's presence-messaging shows %+v, want herself", p.Presence)
	}
	var page engine.MessagePage
	env.MustDo(http.StatusOK, "GET", fmt.Sprintf("/api/messages/%s?limit=100", conv), alice, nil, &page)
	have := map[string]bool{}
	for _, m := range page.Messages {
		have[m.ClientTempID] = true
	}
	for id := range stored {
		if !have[id] {
			t.Errorf("%s was stored (the node said so) and is not in the history", id)
		}
	}
	assertReadModelsEqualTheLog(t, env)
}
