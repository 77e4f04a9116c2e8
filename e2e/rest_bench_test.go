package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parley/engine"
	"parley/internal/node"
	"parley/internal/testkit"
)

// BenchmarkSendHTTP measures the whole send path: HTTP, validation, the
// idempotency lookup, the JetStream append and the wait for the projection.
func BenchmarkSendHTTP(b *testing.B) {
	env := testkit.Start(b)
	const convs = 100
	toks := []string{env.Token("a"), env.Token("b")}
	ids := make([]string, convs)
	for i := range ids {
		var d engine.ConversationDetail
		env.MustDo(http.StatusCreated, "POST", "/api/conversations", toks[0],
			map[string]any{"participant_ids": []string{"b", fmt.Sprint("u", i)}, "title": "bench"}, &d)
		ids[i] = d.ID
	}
	payload := func(n int64) string {
		return fmt.Sprintf(`{"body":"%0200d","client_temp_id":"b-%d"}`, n, n)
	}
	var seq atomic.Int64
	b.SetParallelism(32) // 32 x GOMAXPROCS clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			r := env.Do("POST", "/api/messages/"+ids[n%convs], toks[n%2], payload(n))
			if r.Status != http.StatusCreated {
				b.Errorf("status %d: %s", r.Status, r.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
}

// BenchmarkDelta compares a 100-event reconnect delta on a conversation with
// a short and a long history: the cost must follow the delta, not the history.
func BenchmarkDelta(b *testing.B) {
	for _, history := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("history=%d", history), benchDelta(history))
	}
}

// benchDelta is BenchmarkDelta at one history size.
func benchDelta(history int) func(*testing.B) {
	return func(b *testing.B) {
		// Without the notifications queue: the fill's messages would
		// otherwise keep it busy through the measurement.
		env := testkit.Start(b, func(c *node.Config) { c.Notifications = false })
		tok := env.Token("a")
		var d engine.ConversationDetail
		env.MustDo(http.StatusCreated, "POST", "/api/conversations", tok, map[string]any{"participant_ids": []string{"b"}}, &d)
		last := appendBulk(b, env, d.ID, history)
		testkit.WaitFor(b, 5*time.Minute, "projection of the history", func() bool { return env.Node.DB().Applied() >= last })
		path := fmt.Sprintf("/api/messages/%s/delta?after_seq=%d&limit=100", d.ID, last-100)
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			start := time.Now()
			r := env.Do("GET", path, tok, nil)
			lat = append(lat, time.Since(start))
			if r.Status != http.StatusOK {
				b.Fatalf("status %d: %s", r.Status, r.Body)
			}
		}
		b.StopTimer()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	}
}

// appendBulk appends n message.sent events to one conversation straight to
// the log, from a few goroutines, and returns the last sequence.
func appendBulk(tb testing.TB, env *testkit.Env, conv string, n int) uint64 {
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var last uint64
	const workers = 8
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				ev, err := engine.NewEvent(engine.MessageSent, conv, "a", time.Now(),
					engine.MessageSentData{Body: fmt.Sprintf("%0200d", i), ClientTempID: fmt.Sprint("bulk-", i)})
				if err != nil {
					tb.Error(err)
					return
				}
				seq, _, err := env.Node.Log().Append(ctx, ev, "")
				if err != nil {
					tb.Error(err)
					return
				}
				mu.Lock()
				last = max(last, seq)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return last
}
