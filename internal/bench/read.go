package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"parley/engine"
)

// benchDelta: for each history size H, one conversation with H messages and
// c.Deltas reconnect deltas of the last 100 events.
func benchDelta(ctx context.Context, c benchConfig, stderr io.Writer) ([]Result, error) {
	s, err := startBenchServer(ctx, c, stderr)
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	var out []Result
	for _, hs := range strings.Split(c.History, ",") {
		h, err := strconv.Atoi(strings.TrimSpace(hs))
		if err != nil || h < 100 {
			return nil, fmt.Errorf("--history: %q is not a size of at least 100", hs)
		}
		convs, toks, err := s.directConversations(fmt.Sprint("delta", h), 1)
		if err != nil {
			return nil, err
		}
		seqs, err := s.sendMany(convs[0], toks[0], h, 32)
		if err != nil {
			return nil, err
		}
		slices.Sort(seqs)
		path := fmt.Sprintf("/api/messages/%s/delta?after_seq=%d&limit=100", convs[0], seqs[h-101])
		var lat latencies
		r := Result{Workload: "delta", Params: map[string]any{"history": h, "delta_events": 100, "requests": c.Deltas}}
		if err := s.readyToMeasure(ctx, c, &r, stderr); err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		var d deltaCheck
		for range min(50, c.Deltas) { // warm-up, not measured: the readers' caches, the recent-events memory
			if _, _, err := s.fetchInto(&buf, "GET", path, toks[0], nil); err != nil {
				return nil, err
			}
		}
		quiet := quietCollector()
		cpu0, host0 := s.cpu(), readHostCPU()
		for range c.Deltas {
			start := time.Now()
			_, raw, err := s.fetchInto(&buf, "GET", path, toks[0], nil)
			lat.add(time.Since(start))
			clear(d.Events[:cap(d.Events)]) // the decoder does not zero reused elements
			d.Events = d.Events[:0]
			if err != nil || json.Unmarshal(raw, &d) != nil || len(d.Events) != 100 ||
				d.Events[0].Seq != seqs[h-100] || d.Events[99].Seq != seqs[h-1] {
				r.Errors++
			}
		}
		r.HostStealPct = host0.stealSince()
		quiet()
		if cpu := s.cpu() - cpu0; cpu > 0 {
			r.ServerCPUUsPerRequest = float64(cpu.Microseconds()) / float64(c.Deltas)
		}
		lat.fill(&r)
		out = append(out, r)
	}
	if len(out) > 1 && out[0].P99Ms > 0 {
		last := &out[len(out)-1]
		if last.Extra == nil {
			last.Extra = map[string]any{}
		}
		last.Extra["p99_ratio_to_smallest_history"] = last.P99Ms / out[0].P99Ms
		last.Extra["p50_ratio_to_smallest_history"] = last.P50Ms / out[0].P50Ms
	}
	return out, nil
}

// deltaCheck is the part of a delta the harness checks: decoding only the
// events' sequences makes little garbage.
type deltaCheck struct {
	Events []struct {
		Seq uint64 `json:"seq"`
	} `json:"events"`
}

// inboxCheck is the part of a conversation list the harness checks.
type inboxCheck struct {
	Conversations []struct {
		ID string `json:"id"`
	} `json:"conversations"`
	Summary struct {
		UnreadTotal int64 `json:"unread_total"`
	} `json:"summary"`
}

// benchInbox: a user in c.InboxConvs conversations, each with an unread
// message; the latency of their conversation list (a 50-conversation page).
func benchInbox(ctx context.Context, c benchConfig, stderr io.Writer) ([]Result, error) {
	s, err := startBenchServer(ctx, c, stderr)
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	user := "inbox-user"
	tok := s.token(user)
	for k := range c.InboxConvs {
		other := fmt.Sprint("inbox-friend", k)
		otok := s.token(other)
		var d engine.ConversationDetail
		if _, err := s.do("POST", "/api/conversations", otok, map[string]any{"participant_ids": []string{user}}, &d); err != nil {
			return nil, err
		}
		if _, err := s.do("POST", "/api/messages/"+d.ID, otok, map[string]string{"body": body200, "client_temp_id": "hello"}, nil); err != nil {
			return nil, err
		}
	}
	var lat latencies
	r := Result{Workload: "inbox", Params: map[string]any{"conversations": c.InboxConvs, "page": 50, "requests": c.InboxReads}}
	if err := s.readyToMeasure(ctx, c, &r, stderr); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	quiet := quietCollector()
	cpu0, host0 := s.cpu(), readHostCPU()
	for range c.InboxReads {
		start := time.Now()
		_, raw, err := s.fetchInto(&buf, "GET", "/api/conversations?limit=50", tok, nil)
		lat.add(time.Since(start))
		var l inboxCheck
		if err != nil || json.Unmarshal(raw, &l) != nil || len(l.Conversations) != 50 || l.Summary.UnreadTotal != int64(c.InboxConvs) {
			r.Errors++
		}
	}
	r.HostStealPct = host0.stealSince()
	quiet()
	if cpu := s.cpu() - cpu0; cpu > 0 {
		r.ServerCPUUsPerRequest = float64(cpu.Microseconds()) / float64(c.InboxReads)
	}
	lat.fill(&r)
	return []Result{r}, nil
}

// quietCollector keeps the harness's own garbage collector from running
// beside the server while a latency is measured (the two share the cores,
// and a collection of the harness shows in the server's tail) until the
// harness holds 256 MiB more memory, and returns the function that
// restores it.
func quietCollector() (restore func()) {
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	limit := debug.SetMemoryLimit(int64(m.Sys-m.HeapReleased) + 256<<20)
	percent := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}
