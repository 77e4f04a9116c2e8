package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"parley/engine"
	"parley/projections"
	"parley/streams"
)

// benchCeiling measures this machine's raw limits in the same run: JetStream
// publishes with no HTTP and no projection, sync (c.Clients publishers) and
// async, the log's append as serve makes it, SQLite inserts of message rows
// in batches, the projector applying sends (ceiling_projector.go), and the
// fanout transport floor (floor.go).
func benchCeiling(ctx context.Context, c benchConfig, stderr io.Writer) ([]Result, error) {
	tmp, err := os.MkdirTemp("", "parley-ceiling-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	conn, err := streams.Open(ctx, streams.Config{DataDir: tmp, SyncAlways: c.Sync == "always"})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	n := c.CeilingMsgs
	mk := func(i int) engine.Event {
		ev, _ := engine.NewEvent(engine.MessageSent, fmt.Sprintf("%026d", i%100), "u", time.Now(), engine.MessageSentData{Body: body200, ClientTempID: fmt.Sprint(i)})
		return ev
	}
	var out []Result
	// Sync: c.Clients publishers, each waiting for its ack, with a Msg-Id as sends use.
	// Each figure also carries this process's CPU time per message: the
	// embedded server and its client both run here, as in parley serve.
	self := os.Getpid()
	cpuPer := func(since time.Duration, msgs int) map[string]any {
		return map[string]any{"process_cpu_us_per_msg": float64(procCPU(self)-since) / float64(time.Microsecond) / float64(msgs)}
	}
	// Events are made before the clock starts, for both figures.
	syncEvs := make([]engine.Event, n)
	for i := range syncEvs {
		syncEvs[i] = mk(i)
	}
	var wg sync.WaitGroup
	cpu0 := procCPU(self)
	start := time.Now()
	for w := range c.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += c.Clients {
				if _, _, err := conn.Log().Append(ctx, syncEvs[i], fmt.Sprint("sync-", i)); err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	out = append(out, Result{Workload: "ceiling", EventsPerS: float64(n) / time.Since(start).Seconds(), Extra: cpuPer(cpu0, n),
		Params: map[string]any{"what": "jetstream_publish_sync", "publishers": c.Clients, "messages": n, "sync": c.Sync}})
	evs := make([]engine.Event, n)
	for i := range evs {
		evs[i] = mk(n + i)
	}
	cpu0, start = procCPU(self), time.Now()
	if err := conn.Log().AppendAsync(ctx, evs, 4000); err != nil {
		return nil, err
	}
	out = append(out, Result{Workload: "ceiling", EventsPerS: float64(n) / time.Since(start).Seconds(), Extra: cpuPer(cpu0, n),
		Params: map[string]any{"what": "jetstream_publish_async", "window": 4000, "messages": n, "sync": c.Sync}})
	// The log's Append as parley serve makes it (--sync and --group-commit
	// as the started server's): the publish a send's durability costs.
	la, err := ceilingLogAppend(ctx, c, filepath.Join(tmp, "served"), syncEvs)
	if err != nil {
		return nil, err
	}
	out = append(out, la)
	cpu0 = procCPU(self)
	d, err := projections.InsertCeiling(ctx, filepath.Join(tmp, "ceiling.db"), n)
	if err != nil {
		return nil, err
	}
	out = append(out, Result{Workload: "ceiling", EventsPerS: float64(n) / d.Seconds(), Extra: cpuPer(cpu0, n),
		Params: map[string]any{"what": "sqlite_insert_message_rows", "per_transaction": 10000, "rows": n}})
	pa, err := ceilingProjector(ctx, c, filepath.Join(tmp, "projector.db"), n)
	if err != nil {
		return nil, err
	}
	out = append(out, pa)
	floor, err := benchFloor(ctx, c, stderr)
	if err != nil {
		return nil, fmt.Errorf("fanout transport floor: %w", err)
	}
	out = append(out, floor...)
	return out, nil
}

// ceilingLogAppend publishes evs again through a log opened as parley serve
// opens it (--sync, --group-commit), from c.Clients publishers each waiting
// for its ack: with the defaults, group commit, every event on disk before
// its ack.
func ceilingLogAppend(ctx context.Context, c benchConfig, dir string, evs []engine.Event) (Result, error) {
	conn, err := streams.Open(ctx, streams.Config{DataDir: dir, SyncAlways: c.Sync == "always", GroupCommit: c.GroupCommit})
	if err != nil {
		return Result{}, err
	}
	defer conn.Close()
	self := os.Getpid()
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	cpu0, start := procCPU(self), time.Now()
	for w := range c.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(evs); i += c.Clients {
				if _, _, err := conn.Log().Append(ctx, evs[i], fmt.Sprint("served-", i)); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if e := failed.Load(); e != nil {
		return Result{}, fmt.Errorf("log append: %w", *e)
	}
	n := len(evs)
	return Result{Workload: "ceiling", EventsPerS: float64(n) / time.Since(start).Seconds(),
		Extra:  map[string]any{"process_cpu_us_per_msg": float64(procCPU(self)-cpu0) / float64(time.Microsecond) / float64(n)},
		Params: map[string]any{"what": "log_append", "publishers": c.Clients, "messages": n}}, nil
}
