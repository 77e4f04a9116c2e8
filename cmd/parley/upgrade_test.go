package main

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parley/engine"
	"parley/internal/testkit"
	"parley/projections"
)

// A node started with a newer projection version rebuilds its read models
// from the log into a new file while the old one keeps serving, swaps, and
// removes the old file; requests succeed throughout. `replay --swap` takes
// the same path by hand.
func TestProjectionVersionBumpRebuildsAndSwaps(t *testing.T) {
	env := testkit.Start(t)
	w := &workload{t: t, env: env, rng: rand.New(rand.NewPCG(3, 4))}
	w.setup()
	for range 60 {
		w.step()
	}
	conv := w.convs[1] // a direct conversation of u1 and u2
	for i := range 6000 {
		ev, err := engine.NewEvent(engine.MessageSent, conv, "u1", time.Now(), engine.MessageSentData{Body: "bulk", ClientTempID: "bulk-" + itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := env.Node.Log().Append(t.Context(), ev, ""); err != nil {
			t.Fatal(err)
		}
	}
	dir := env.Config.DataDir
	oldPath := projections.LivePath(dir)
	env.Stop()

	env.Config.ProjectionVersion = projections.Version + 1
	env.Restart()
	if started, _ := env.Node.Upgrading(false); !started {
		t.Fatal("a newer projection version did not start a background rebuild")
	}
	// Traffic while the rebuild runs: every request must succeed.
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		u1 := env.Token("u1")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r := env.Do("POST", "/api/messages/"+conv, u1, map[string]string{"body": "during", "client_temp_id": "during-" + itoa(i)})
			r2 := env.Do("GET", "/api/conversations", u1, nil)
			if r.Status == http.StatusCreated && r2.Status == http.StatusOK {
				ok.Add(1)
			} else {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, string(r.Body)+" / "+string(r2.Body))
			}
		}
	}()
	_, err := env.Node.Upgrading(true)
	during := ok.Load()
	testkit.WaitFor(t, 10*time.Second, "requests after the swap", func() bool { return ok.Load() > during+5 })
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("background rebuild: %v", err)
	}
	if failed.Load() > 0 {
		t.Fatalf("%d requests failed during the rebuild, first: %v", failed.Load(), firstErr.Load())
	}
	if during == 0 {
		t.Fatal("no request was served while the rebuild ran")
	}
	newPath := projections.LivePath(dir)
	if newPath == oldPath || env.Node.DB().Path() != newPath {
		t.Fatalf("live database is %s (pointer %s), was %s", env.Node.DB().Path(), newPath, oldPath)
	}
	if _, err := os.Stat(oldPath); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("old database %s still exists: %v", oldPath, err)
	}
	if v, err := env.Node.DB().BuiltVersion(t.Context()); err != nil || v != projections.Version+1 {
		t.Fatalf("built version = %d, %v", v, err)
	}
	out, err := runCmd(t, "verify", "--data", dir)
	if err != nil || !strings.Contains(out, "verify: equal") {
		t.Fatalf("verify after the swap: %v\n%s", err, out)
	}

	// By hand: replay --swap refuses while the server runs, then swaps.
	if out, err := runCmd(t, "replay", "--data", dir, "--swap"); err == nil {
		t.Fatalf("replay --swap with a running server succeeded:\n%s", out)
	}
	env.Stop()
	out, err = runCmd(t, "replay", "--data", dir, "--swap")
	if err != nil || !strings.Contains(out, "swapped in") {
		t.Fatalf("replay --swap: %v\n%s", err, out)
	}
	if p := projections.LivePath(dir); p == newPath {
		t.Fatal("replay --swap did not change the live database")
	} else if _, err := os.Stat(newPath); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("replaced database %s still exists", newPath)
	}
	env.Config.ProjectionVersion = 0
	env.Restart()
	if started, _ := env.Node.Upgrading(false); started {
		t.Fatal("a rebuild started on a database of the current version")
	}
	out, err = runCmd(t, "verify", "--data", dir)
	if err != nil || !strings.Contains(out, "verify: equal") {
		t.Fatalf("verify after replay --swap: %v\n%s", err, out)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
