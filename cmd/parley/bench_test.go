package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"parley/internal/bench"
)

// The harness runs every workload end to end (with tiny sizes) and prints
// one JSON object per result with the documented fields.
func TestBenchHarnessRunsEveryWorkload(t *testing.T) {
	t.Setenv("PARLEY_TEST_AS_MAIN", "1") // children of this test binary act as parley
	out, err := runCmd(t, "bench", "send", "fanout", "delta", "inbox", "connections", "replay", "ceiling", "bigroom", "--json",
		"--bigroom-members", "20", "--bigroom-connected", "3",
		"--fanout-conversations", "3", "--subscribers", "3", "--senders", "2", "--rate", "50", "--connections", "20", "--contacts", "3",
		"--duration", "1s", "--clients", "4", "--conversations", "5", "--history", "200,400", "--deltas", "5",
		"--inbox-conversations", "60", "--inbox-reads", "5", "--events", "3000", "--ceiling-msgs", "2000")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	got := map[string][]bench.Result{}
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r bench.Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("not JSON: %s", line)
		}
		var raw map[string]any
		_ = json.Unmarshal([]byte(line), &raw)
		for _, f := range []string{"workload", "errors", "lost", "params"} {
			if _, ok := raw[f]; !ok {
				t.Fatalf("%s lacks %q: %s", r.Workload, f, line)
			}
		}
		if r.Errors != 0 {
			t.Fatalf("%s had errors: %s", r.Workload, line)
		}
		got[r.Workload] = append(got[r.Workload], r)
	}
	send := got["send"]
	if len(send) != 1 || send[0].SendsPerS <= 0 || send[0].P99Ms <= 0 || send[0].ServerCPUUsPerSend <= 0 {
		t.Fatalf("send result = %+v", send)
	}
	fan := got["fanout"]
	if len(fan) != 2 || fan[0].DeliveriesPerS <= 0 || fan[0].Lost != 0 || fan[1].Lost != 0 || fan[0].P99Ms <= 0 || fan[0].ServerCPUUsPerDelivery <= 0 {
		t.Fatalf("fanout results = %+v", fan)
	}
	// The harness's own CPU per send sits beside the server's.
	for _, r := range []bench.Result{send[0], fan[0]} {
		if h, ok := r.Extra["harness_cpu_us_per_send"].(float64); !ok || h <= 0 {
			t.Fatalf("%s without the harness's CPU per send: %+v", r.Workload, r.Extra)
		}
	}
	// Both fanout runs time the sends' HTTP answers beside their deliveries.
	for _, r := range fan {
		p50, ok50 := r.Extra["answer_p50_ms"].(float64)
		p99, ok99 := r.Extra["answer_p99_ms"].(float64)
		if !ok50 || !ok99 || p50 <= 0 || p99 < p50 {
			t.Fatalf("fanout without its answers' latency: %+v", r.Extra)
		}
	}
	// A measured window says how much of the machine the host took (the
	// tiny delta and inbox windows here are shorter than /proc/stat's tick).
	if _, err := os.Stat("/proc/stat"); err == nil { // the host's counters exist here
		for _, r := range append(send, fan...) {
			if r.HostStealPct == nil || *r.HostStealPct < 0 || *r.HostStealPct > 100 {
				t.Fatalf("%s %v without the host's steal share: %v", r.Workload, r.Params, r.HostStealPct)
			}
		}
	}
	if c := got["connections"]; len(c) != 1 || c[0].Extra["server_rss_after_kib"] == nil || c[0].Extra["server_rss_after_kib"].(float64) <= 0 ||
		c[0].Extra["open_s"] == nil || c[0].Extra["open_s"].(float64) <= 0 || c[0].Extra["server_cpu_s_open"] == nil || c[0].Extra["server_cpu_s_open"].(float64) < 0 ||
		c[0].Extra["contacts_per_user"] == nil || c[0].Extra["contacts_per_user"].(float64) < 2 {
		t.Fatalf("connections result = %+v", c)
	}
	if d := got["delta"]; len(d) != 2 || d[0].P50Ms <= 0 || d[1].Extra["p99_ratio_to_smallest_history"] == nil {
		t.Fatalf("delta results = %+v", d)
	}
	if in := got["inbox"]; len(in) != 1 || in[0].P99Ms <= 0 {
		t.Fatalf("inbox result = %+v", in)
	}
	// The reads are measured once the server has settled after its fill.
	for _, r := range append(got["delta"], got["inbox"]...) {
		if w, ok := r.Extra["settle_s"].(float64); !ok || w < 0.5 || r.Extra["settled"] != true {
			t.Fatalf("%s %v measured without settling: %v", r.Workload, r.Params, r.Extra)
		}
	}
	// bigroom: the 2-member reference and the big room at 1 and 8 senders,
	// every delivery made, each big room with its CPU ratio to the reference
	// and the floor server's CPU per send in the same two rooms.
	if b := got["bigroom"]; len(b) != 4 {
		t.Fatalf("bigroom results = %+v", b)
	}
	for i, r := range got["bigroom"] {
		room := []string{"reference", "big"}[i%2]
		if r.Params["room"] != room || r.Lost != 0 || r.SendsPerS <= 0 || r.P99Ms <= 0 || r.ServerCPUUsPerSend <= 0 {
			t.Fatalf("bigroom result %d = %+v", i, r)
		}
		if ratio, ok := r.Extra["cpu_ratio"].(float64); room == "big" && (!ok || ratio <= 0) {
			t.Fatalf("bigroom %v without its CPU ratio: %+v", r.Params, r.Extra)
		}
		// The same rooms on the forwarding-only floor server.
		f, ok1 := r.Extra["floor_cpu_us_per_send"].(float64)
		f0, ok2 := r.Extra["floor_cpu_us_per_send_reference"].(float64)
		if room == "big" && (!ok1 || !ok2 || f <= 0 || f0 <= 0) {
			t.Fatalf("bigroom %v without the floor's figures: %+v", r.Params, r.Extra)
		}
	}
	if r := got["replay"]; len(r) != 1 || r[0].EventsPerS <= 0 || r[0].Params["events"].(float64) < 3000 {
		t.Fatalf("replay result = %+v", r)
	}
	// The replay's own peak memory (what it reports), not the harness's that
	// a child's rusage would include: the harness holds the whole log's fill.
	if mib, ok := got["replay"][0].Extra["peak_rss_mib"].(float64); !ok || mib <= 0 {
		t.Fatalf("replay without its peak memory: %+v", got["replay"][0].Extra)
	}
	if c := got["ceiling"]; len(c) != 7 || c[2].Params["what"] != "log_append" || c[2].EventsPerS <= 0 {
		t.Fatalf("ceiling results = %+v", c)
	}
	// The projector's figure: every send applied, in transactions of the
	// live projector's size (8 by default).
	if p := got["ceiling"][4]; p.Params["what"] != "projector_apply" || p.Params["messages"] != float64(2000) ||
		p.Params["per_transaction"] != float64(8) || p.EventsPerS <= 0 {
		t.Fatalf("projector figure = %+v", p)
	}
	// The fanout transport floor: fanout's closed and open loops against a
	// server that only forwards, every delivery made.
	for i, mode := range []string{"closed-loop", "open-loop"} {
		floor := got["ceiling"][5+i]
		if floor.Params["what"] != "fanout_transport_floor" || floor.Params["mode"] != mode ||
			floor.SendsPerS <= 0 || floor.DeliveriesPerS <= 0 || floor.Lost != 0 || floor.P99Ms <= 0 {
			t.Fatalf("fanout transport floor, %s = %+v", mode, floor)
		}
	}
	if got["ceiling"][6].Params["rate_per_s"] != float64(50) {
		t.Fatalf("the open-loop floor ran at %v, not --rate", got["ceiling"][6].Params["rate_per_s"])
	}
	// Send and fanout are held to the floors of the same run: send's is the
	// log's append plus a row insert, as ceiling measured them, and its
	// design floor the append plus the projector's apply; fanout's the
	// transport floor's in the same mode.
	la, ins := got["ceiling"][2].Extra["process_cpu_us_per_msg"].(float64), got["ceiling"][3].Extra["process_cpu_us_per_msg"].(float64)
	if f, ok := send[0].Extra["floor_cpu_us_per_send"].(float64); !ok || f != la+ins {
		t.Fatalf("send's floor %v, want the append's %v plus the insert's %v", send[0].Extra["floor_cpu_us_per_send"], la, ins)
	}
	if r, ok := send[0].Extra["cpu_over_floor"].(float64); la+ins > 0 && (!ok || r != send[0].ServerCPUUsPerSend/(la+ins)) {
		t.Fatalf("send's cpu_over_floor %v, want %v / %v", send[0].Extra["cpu_over_floor"], send[0].ServerCPUUsPerSend, la+ins)
	}
	pa := got["ceiling"][4].Extra["process_cpu_us_per_msg"].(float64)
	if f, ok := send[0].Extra["design_floor_cpu_us_per_send"].(float64); !ok || f != la+pa {
		t.Fatalf("send's design floor %v, want the append's %v plus the projector's %v", send[0].Extra["design_floor_cpu_us_per_send"], la, pa)
	}
	if r, ok := send[0].Extra["cpu_over_design_floor"].(float64); la+pa > 0 && (!ok || r != send[0].ServerCPUUsPerSend/(la+pa)) {
		t.Fatalf("send's cpu_over_design_floor %v, want %v / %v", send[0].Extra["cpu_over_design_floor"], send[0].ServerCPUUsPerSend, la+pa)
	}
	for i, r := range fan {
		floor := got["ceiling"][5+i]
		if v, ok := r.Extra["cpu_over_floor"].(float64); !ok || v != r.ServerCPUUsPerDelivery/floor.ServerCPUUsPerDelivery {
			t.Fatalf("fanout %v: cpu_over_floor %v, want %v / %v", r.Params["mode"], r.Extra["cpu_over_floor"], r.ServerCPUUsPerDelivery, floor.ServerCPUUsPerDelivery)
		}
	}
	if v, ok := fan[1].Extra["p99_over_floor"].(float64); !ok || v != fan[1].P99Ms/got["ceiling"][6].P99Ms {
		t.Fatalf("open-loop fanout: p99_over_floor %v, want %v / %v", fan[1].Extra["p99_over_floor"], fan[1].P99Ms, got["ceiling"][6].P99Ms)
	}
	// Every other figure carries its CPU time per message; /proc counts it
	// in 10 ms ticks, so only the sync publishes (about 100 ms of CPU for
	// 2,000) are sure to show a positive figure on any machine.
	for _, c := range got["ceiling"][:5] {
		cpu, ok := c.Extra["process_cpu_us_per_msg"].(float64)
		if !ok || cpu < 0 || (c.Params["what"] == "jetstream_publish_sync" && cpu <= 0) {
			t.Fatalf("ceiling %v without its CPU time per message: %+v", c.Params["what"], c.Extra)
		}
	}
}

// The steal share reads /proc/stat's aggregate line: steal over every state
// but the guest columns, which user and nice already hold.
// The fanout reader's shortcut finds the client_temp_id of a message.sent
// frame as the server writes it and leaves every other frame to the decoder.
// --senders 0 runs the fanout's open loop alone; with --rate 0 too there is
// nothing to run, which is an error rather than an empty result.
func TestBenchFanoutOpenLoopAlone(t *testing.T) {
	t.Setenv("PARLEY_TEST_AS_MAIN", "1")
	out, err := runCmd(t, "bench", "fanout", "--json", "--fanout-conversations", "2", "--subscribers", "2",
		"--senders", "0", "--rate", "40", "--duration", "1s")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	var modes []any
	for _, line := range strings.Split(out, "\n") {
		var r bench.Result
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &r) == nil {
			if r.Lost != 0 || r.Errors != 0 || r.SendsPerS <= 0 {
				t.Fatalf("open loop: %s", line)
			}
			modes = append(modes, r.Params["mode"])
		}
	}
	if len(modes) != 1 || modes[0] != "open-loop" {
		t.Fatalf("results' modes = %v, want one open-loop\n%s", modes, out)
	}
	out, err = runCmd(t, "bench", "fanout", "--senders", "0", "--rate", "0")
	if err == nil || !strings.Contains(err.Error(), "nothing to run") {
		t.Fatalf("--senders 0 --rate 0: err %v\n%s", err, out)
	}
}
