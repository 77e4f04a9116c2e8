package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"parley/engine"
)

// body200 is a 200-byte message body.
var body200 = strings.Repeat("parley ", 28) + "1234"

// benchSend: c.Clients closed-loop HTTP clients send 200-byte messages with
// unique client_temp_ids into c.Convs conversations for c.Duration.
func benchSend(ctx context.Context, c benchConfig, stderr io.Writer) ([]Result, error) {
	s, err := startBenchServer(ctx, c, stderr)
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	convs, toks, err := s.directConversations("send", c.Convs)
	if err != nil {
		return nil, err
	}
	var lat latencies
	var ok, errs atomic.Int64
	var next atomic.Int64
	run := fmt.Sprint(time.Now().UnixNano())
	cpu0, own0, host0, t0 := s.cpu(), harnessCPU(), readHostCPU(), time.Now()
	deadline := t0.Add(c.Duration)
	var wg sync.WaitGroup
	for range c.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				n := next.Add(1)
				k := int(n) % len(convs)
				start := time.Now()
				_, err := s.do("POST", "/api/messages/"+convs[k], toks[k],
					map[string]string{"body": body200, "client_temp_id": fmt.Sprint(run, "-", n)}, nil)
				lat.add(time.Since(start))
				if err != nil {
					errs.Add(1)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed, cpu, own, steal := time.Since(t0), s.cpu()-cpu0, harnessCPU()-own0, host0.stealSince()
	r := Result{Workload: "send", SendsPerS: float64(ok.Load()) / elapsed.Seconds(), Errors: errs.Load(), HostStealPct: steal,
		Params: map[string]any{"clients": c.Clients, "conversations": c.Convs, "duration_s": c.Duration.Seconds(), "body_bytes": len(body200)}}
	if ok.Load() > 0 && cpu > 0 {
		r.ServerCPUUsPerSend = float64(cpu.Microseconds()) / float64(ok.Load())
	}
	r.Extra = harnessShare(own, ok.Load())
	lat.fill(&r)
	return []Result{r}, nil
}

// directConversations creates n direct conversations and returns their ids
// and, for each, the token of the user who sends into it.
func (s *benchServer) directConversations(prefix string, n int) ([]string, []string, error) {
	ids, toks := make([]string, n), make([]string, n)
	for k := range n {
		a, b := fmt.Sprintf("%s-a%d", prefix, k), fmt.Sprintf("%s-b%d", prefix, k)
		toks[k] = s.token(a)
		var d engine.ConversationDetail
		if _, err := s.do("POST", "/api/conversations", toks[k], map[string]any{"participant_ids": []string{b}}, &d); err != nil {
			return nil, nil, err
		}
		ids[k] = d.ID
	}
	return ids, toks, nil
}

// sendMany sends n messages into one conversation with a few concurrent
// clients and returns the stored messages' sequences in order.
func (s *benchServer) sendMany(conv, tok string, n, clients int) ([]uint64, error) {
	seqs := make([]uint64, n)
	var next atomic.Int64
	var firstErr error // errors of different types, so not an atomic.Value
	var failed atomic.Bool
	var errOnce sync.Once
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || failed.Load() {
					return
				}
				var m engine.Message
				if _, err := s.do("POST", "/api/messages/"+conv, tok, map[string]string{"body": body200, "client_temp_id": fmt.Sprint("fill-", i)}, &m); err != nil {
					errOnce.Do(func() { firstErr = err })
					failed.Store(true)
					return
				}
				seqs[i] = m.Seq
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return seqs, nil
}
