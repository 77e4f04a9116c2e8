package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// serverRuntime reads the server's goroutine count and its heap in use
// (after a GC) from its pprof endpoint.
func serverRuntime(client *http.Client, pprofURL string) (goroutines, heapInuse, heapAlloc int64, err error) {
	get := func(path string) (string, error) {
		resp, err := client.Get(pprofURL + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	// Two collections: objects in sync.Pools survive the first.
	if _, err := get("/debug/pprof/heap?gc=1"); err != nil {
		return 0, 0, 0, err
	}
	g, err := get("/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, 0, 0, err
	}
	if m := regexp.MustCompile(`goroutine profile: total (\d+)`).FindStringSubmatch(g); m != nil {
		goroutines, _ = strconv.ParseInt(m[1], 10, 64)
	}
	h, err := get("/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return 0, 0, 0, err
	}
	if m := regexp.MustCompile(`# HeapInuse = (\d+)`).FindStringSubmatch(h); m != nil {
		heapInuse, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := regexp.MustCompile(`# HeapAlloc = (\d+)`).FindStringSubmatch(h); m != nil {
		heapAlloc, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return goroutines, heapInuse, heapAlloc, nil
}

// benchSoak runs a mixed load for c.Duration: sends, history and list
// reads, deltas, socket reconnects with presence churn and heartbeats. It
// compares the server's goroutines and heap after the load (and its idle
// timeouts) with before.
func benchSoak(ctx context.Context, c benchConfig, stderr io.Writer) ([]Result, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	pprofAddr := ln.Addr().String()
	ln.Close()
	c.serveArgs = append(c.serveArgs, "--pprof", pprofAddr, "--presence-ttl", "10s", "--ws-idle-timeout", "5s", "--dup-window", "20s")
	s, err := startBenchServer(ctx, c, stderr)
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	pprofURL := "http://" + pprofAddr
	convs, toks, err := s.directConversations("soak", 20)
	if err != nil {
		return nil, err
	}
	key, err := s.appKey(toks[0])
	if err != nil {
		return nil, err
	}
	// Warm up with the same load, let it settle, and take the baseline
	// there; then the soak proper, the same settling, and the comparison.
	warm := min(max(c.Duration/10, 10*time.Second), c.Duration)
	settle := 30 * time.Second
	ops, errs, _ := soakLoad(ctx, s, key, convs, toks, warm)
	g0, h0, a0, err := settleAndRead(s, pprofURL, settle)
	if err != nil {
		return nil, err
	}
	if err := saveHeapProfile(s.client, pprofURL, c.Profiles, "heap-before.pb.gz"); err != nil {
		return nil, err
	}
	ops, errs, firstErr := soakLoad(ctx, s, key, convs, toks, c.Duration)
	g1, h1, a1, err := settleAndRead(s, pprofURL, settle)
	if err != nil {
		return nil, err
	}
	if err := saveHeapProfile(s.client, pprofURL, c.Profiles, "heap-after.pb.gz"); err != nil {
		return nil, err
	}
	r := Result{Workload: "soak", Errors: errs,
		Params: map[string]any{"duration_s": c.Duration.Seconds(), "warmup_s": warm.Seconds(), "settle_s": settle.Seconds(), "senders": 4, "readers": 2, "reconnectors": 4}}
	r.Extra = map[string]any{
		"operations": ops, "goroutines_before": g0, "goroutines_after": g1,
		"heap_inuse_before_kib": h0 / 1024, "heap_inuse_after_kib": h1 / 1024,
		"goroutines_ratio": float64(g1) / float64(max(g0, 1)), "heap_ratio": float64(h1) / float64(max(h0, 1)),
		"heap_live_before_kib": a0 / 1024, "heap_live_after_kib": a1 / 1024, "heap_live_ratio": float64(a1) / float64(max(a0, 1)),
	}
	if firstErr != "" {
		r.Extra["first_error"] = firstErr
	}
	return []Result{r}, nil
}

// saveHeapProfile writes the server's heap profile into dir/name, for
// `go tool pprof -diff_base heap-before.pb.gz heap-after.pb.gz`; no dir, no
// profile.
func saveHeapProfile(client *http.Client, pprofURL, dir, name string) error {
	if dir == "" {
		return nil
	}
	resp, err := client.Get(pprofURL + "/debug/pprof/heap")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), raw, 0o644)
}

// settleAndRead lets idle timeouts, presence leases, keep-alive connections
// and the duplicate window expire, then reads the server's runtime figures.
func settleAndRead(s *benchServer, pprofURL string, settle time.Duration) (goroutines, heapInuse, heapLive int64, err error) {
	s.client.CloseIdleConnections()
	time.Sleep(settle)
	g, h, a, err := serverRuntime(s.client, pprofURL)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("pprof: %w", err)
	}
	return g, h, a, nil
}

// soakLoad runs the mixed load for d and counts operations and errors (and
// says what the first error was).
func soakLoad(ctx context.Context, s *benchServer, key string, convs, toks []string, d time.Duration) (int64, int64, string) {
	var ops, errs atomic.Int64
	var first atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	worker := func(seed uint64, step func(r *rand.Rand) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 9))
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := step(r); err != nil {
					errs.Add(1)
					first.CompareAndSwap(nil, err.Error())
				} else {
					ops.Add(1)
				}
			}
		}()
	}
	var n atomic.Int64
	n.Store(time.Now().UnixNano())
	for w := range 4 { // senders
		worker(uint64(w), func(r *rand.Rand) error {
			k := r.IntN(len(convs))
			_, err := s.do("POST", "/api/messages/"+convs[k], toks[k], map[string]string{"body": body200, "client_temp_id": fmt.Sprint("soak-", n.Add(1))}, nil)
			return err
		})
	}
	for w := range 2 { // readers
		worker(uint64(10+w), func(r *rand.Rand) error {
			k := r.IntN(len(convs))
			var err error
			switch r.IntN(3) {
			case 0:
				_, err = s.do("GET", "/api/conversations", toks[k], nil, nil)
			case 1:
				_, err = s.do("GET", "/api/messages/"+convs[k]+"?limit=50", toks[k], nil, nil)
			default:
				_, err = s.do("GET", fmt.Sprintf("/api/messages/%s/delta?after_seq=0&limit=%d", convs[k], 1+r.IntN(100)), toks[k], nil, nil)
			}
			return err
		})
	}
	for w := range 4 { // reconnects with presence churn
		worker(uint64(20+w), func(r *rand.Rand) error {
			k := r.IntN(len(convs))
			pc, err := s.dialPusher(ctx, key)
			if err != nil {
				return err
			}
			defer pc.ws.CloseNow()
			for _, ch := range []string{"presence-messaging", "private-conversation." + convs[k]} {
				if err := s.subscribe(ctx, pc, toks[k], ch); err != nil {
					return err
				}
			}
			rctx, cancel := context.WithTimeout(ctx, time.Duration(200+r.IntN(800))*time.Millisecond)
			defer cancel()
			for {
				if _, err := pc.read(rctx); err != nil {
					return nil // the planned disconnect
				}
			}
		})
	}
	worker(30, func(r *rand.Rand) error { // heartbeats
		k := r.IntN(len(convs))
		_, err := s.do("POST", "/api/messages/presence/heartbeat", toks[k], map[string]any{}, nil)
		time.Sleep(100 * time.Millisecond)
		return err
	})
	wg.Wait()
	msg, _ := first.Load().(string)
	return ops.Load(), errs.Load(), msg
}
