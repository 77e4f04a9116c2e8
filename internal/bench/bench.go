// Package bench is the load harness behind `parley bench`: workloads that
// drive a Parley server through its public interfaces (HTTP, the Pusher
// WebSocket, the log) and report rates, latencies and server CPU, and the
// floors (ceiling) they are held against.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"parley/internal/profiling"
)

const benchUsage = `Usage: parley bench [flags] WORKLOAD...

Runs named workloads against a Parley server's public interfaces (HTTP, and
the log through the data dir's NATS port for replay) and prints a table, or
one JSON object per workload with --json. Without --url it starts its own
server (a child process, so its CPU time is its own) on a temp data dir.
send, fanout (and ceiling's fanout floor), bigroom, delta and inbox also
report the host's steal: the share of the machine's CPU time the hypervisor
gave to other guests while they measured (host_steal_pct), which shows in a
run's tail on a shared VM.

Workloads:
  send      N keep-alive HTTP clients sending 200-byte messages into 100 conversations
            (with ceiling in the same run, send and fanout also carry extra.cpu_over_floor:
            send over the log's append plus a row insert, fanout over the transport
            floor, and the open loop's extra.p99_over_floor)
  delta     reconnect deltas of 100 events on a conversation with H messages of history
  inbox     the conversation list of a user in 1,000 conversations with unread messages
            (both measure once the server's CPU has settled after their fill: --quiet-wait)
  replay    events/s rebuilding the read models from a log of E events
  fanout    conversations with subscribed WebSocket clients (Pusher protocol) and HTTP
            senders, closed-loop then open-loop (--senders 0 or --rate 0 skips one):
            deliveries/s, send-to-receive latency, each send's answer latency, lost
  connections  K idle sockets on presence-messaging and a private channel: the join storm's
            server CPU, RSS per socket; --contacts C first puts the users in group
            conversations so each shares one with about C others (whose joins they hear)
  ceiling   raw JetStream publish (sync, async), the log's append as serve makes it
            (--sync, --group-commit: by default group commit, fsynced before the ack),
            SQLite insert rates, the projector applying sends in transactions of
            --ceiling-batch events (send's extra.cpu_over_design_floor is over the
            append plus this), and the fanout transport floor: fanout's closed and open loops (each for
            --duration, at most 3 s) against a server that only forwards each send to
            its room's sockets
  bigroom   closed-loop sends from 1, then 8 HTTP senders (each for --duration, at most 5 s)
            into one conversation of --bigroom-members members, --bigroom-connected of them
            with subscribed sockets and the rest offline (notifications on), and the same
            sends into a 2-member conversation (the other member connected) on the same
            server as the reference: latency to the sockets, lost, server CPU per send until
            the server has drained what the sends left, and the big room's extra.cpu_ratio
            to the reference; then the same two rooms' sends on the forwarding-only floor
            server (see ceiling), with extra.extra_cpu_over_floor: the big room's CPU
            beyond the reference's over the floor's. Not in standard: it sets up a room
            of 1,000 users and their sockets before its windows
  search    builds read models of --search-messages messages in this process (no server)
            and times one user's searches: a rare word, a common one, two words, a prefix,
            and a common word in one conversation. Not in standard
  attachments  8 clients upload --attachment-kib files for --duration (at most 10 s), then
            download them for as long: MiB/s, latency per file, server CPU per MiB. Not in standard
  soak      a mixed load (sends, reads, reconnects, presence churn) for --duration (use 10m),
            then the server's goroutines and heap compared with before the load
  standard  every workload but soak and bigroom, with sizes that finish in a few minutes

Flags:
`

// Result is one workload's figures; field names carry their unit.
// HostStealPct is the share of the machine's CPU time the hypervisor gave to
// other guests during a latency or throughput window (absent for workloads
// without one, or without /proc/stat).
type Result struct {
	Workload               string         `json:"workload"`
	SendsPerS              float64        `json:"sends_per_s,omitempty"`
	DeliveriesPerS         float64        `json:"deliveries_per_s,omitempty"`
	EventsPerS             float64        `json:"events_per_s,omitempty"`
	P50Ms                  float64        `json:"p50_ms,omitempty"`
	P90Ms                  float64        `json:"p90_ms,omitempty"`
	P99Ms                  float64        `json:"p99_ms,omitempty"`
	MaxMs                  float64        `json:"max_ms,omitempty"`
	Errors                 int64          `json:"errors"`
	Lost                   int64          `json:"lost"`
	RSSPerConnKiB          float64        `json:"rss_per_conn_kib,omitempty"`
	ServerCPUUsPerSend     float64        `json:"server_cpu_us_per_send,omitempty"`
	ServerCPUUsPerDelivery float64        `json:"server_cpu_us_per_delivery,omitempty"`
	ServerCPUUsPerRequest  float64        `json:"server_cpu_us_per_request,omitempty"`
	HostStealPct           *float64       `json:"host_steal_pct,omitempty"`
	Extra                  map[string]any `json:"extra,omitempty"`
	Params                 map[string]any `json:"params"`
}

// procNote says which figures a system without /proc leaves out (empty
// on Linux, where every figure is measured).
func procNote(goos string) string {
	if goos == "linux" {
		return ""
	}
	return "parley bench: on " + goos + " the server's CPU time and memory and the host's stolen time are not measured " +
		"(they are read from /proc, which only Linux has): those figures are left out; throughput and latency are measured as everywhere"
}

// benchConfig holds the harness's flags.
type benchConfig struct {
	URL        string
	JWTSecret  string
	DataDir    string
	PID        int
	Duration   time.Duration
	JSON       bool
	Clients    int
	Convs      int
	History    string
	Deltas     int
	InboxConvs int
	InboxReads int
	Events     int
	// SearchMessages is the search workload's read model size.
	SearchMessages int
	// AttachmentKiB is the attachments workload's file size.
	AttachmentKiB int
	CeilingMsgs   int
	// CeilingBatch is the events per transaction of ceiling's projector figure.
	CeilingBatch int
	Sync         string
	GroupCommit  bool
	FanConvs     int
	Subscribers  int
	Senders      int
	Rate         int
	Connections  int
	Contacts     int
	BigMembers   int
	BigConnected int
	Settle       time.Duration
	QuietWait    time.Duration
	Profiles     string
	serveArgs    []string // extra flags for a server the harness starts
}

func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if _, ok := stderr.(*os.File); !ok {
		// The server and replay child processes copy their stderr into it
		// from goroutines of their own (a file is handed to them instead).
		stderr = &lockedWriter{w: stderr}
	}
	var c benchConfig
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage); fs.PrintDefaults() }
	fs.StringVar(&c.URL, "url", "", "server to drive (default: start one on a temp data dir)")
	fs.StringVar(&c.JWTSecret, "jwt-secret", "", "the server's JWT secret, to mint test users (with --url)")
	fs.StringVar(&c.DataDir, "data", "", "the server's data dir (with --url; replay reads its log)")
	fs.IntVar(&c.PID, "pid", 0, "the server's process id, for its CPU time (with --url)")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long the send workload runs")
	fs.BoolVar(&c.JSON, "json", false, "print one JSON object per workload")
	fs.IntVar(&c.Clients, "clients", 64, "send: concurrent HTTP clients")
	fs.IntVar(&c.Convs, "conversations", 100, "send: conversations to send into")
	fs.StringVar(&c.History, "history", "1000,100000", "delta: history sizes, comma-separated")
	fs.IntVar(&c.Deltas, "deltas", 1000, "delta: reconnect deltas measured per history size")
	fs.IntVar(&c.InboxConvs, "inbox-conversations", 1000, "inbox: conversations of the user")
	fs.IntVar(&c.InboxReads, "inbox-reads", 1000, "inbox: list requests measured")
	fs.IntVar(&c.Events, "events", 1000000, "replay: events in the log")
	fs.IntVar(&c.SearchMessages, "search-messages", 1000000, "search: messages in the read model searched")
	fs.IntVar(&c.AttachmentKiB, "attachment-kib", 1024, "attachments: the size of each file, KiB")
	fs.IntVar(&c.CeilingMsgs, "ceiling-msgs", 50000, "ceiling: messages per measurement")
	fs.IntVar(&c.CeilingBatch, "ceiling-batch", 8, "ceiling: events per transaction of the projector figure (what the live projector commits under send)")
	fs.StringVar(&c.Sync, "sync", "always", "log durability of the server the harness starts: always (fsync before the ack) or interval")
	fs.BoolVar(&c.GroupCommit, "group-commit", true, "the started server batches appends into atomic publishes (one fsync each)")
	fs.IntVar(&c.FanConvs, "fanout-conversations", 100, "fanout: conversations")
	fs.IntVar(&c.Subscribers, "subscribers", 10, "fanout: subscribed sockets per conversation")
	fs.IntVar(&c.Senders, "senders", 8, "fanout: closed-loop HTTP senders (0: skip the closed-loop run)")
	fs.IntVar(&c.Rate, "rate", 2000, "fanout: open-loop sends/s after the closed-loop run (0: skip)")
	fs.IntVar(&c.Connections, "connections", 10000, "connections: idle sockets")
	fs.IntVar(&c.Contacts, "contacts", 0, "connections: before the sockets connect, put each user in group conversations with about this many others (0: none)")
	fs.IntVar(&c.BigMembers, "bigroom-members", 1000, "bigroom: members of the big conversation (the server allows at most 1000)")
	fs.IntVar(&c.BigConnected, "bigroom-connected", 100, "bigroom: members of the big conversation with a subscribed socket (the rest are offline)")
	fs.DurationVar(&c.Settle, "settle", 2*time.Second, "connections: how long the sockets stay idle before the server's RSS is read")
	fs.DurationVar(&c.QuietWait, "quiet-wait", 30*time.Second, "delta, inbox: at most how long to wait after the fill for the server's CPU to settle before measuring (0: measure at once)")
	fs.StringVar(&c.Profiles, "profiles", "", "soak: write the server's heap profiles before and after the load into this dir")
	floorAddr := fs.String("floor-server", "", "internal: serve the ceiling's fanout transport floor on this address (the harness starts it)")
	pprofAddr := fs.String("pprof", "", "serve the harness's own profiler on this address (the server's is `serve --pprof`)")
	// Workload names may come before, between or after the flags.
	var names []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		names = append(names, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if *floorAddr != "" {
		if len(names) > 0 {
			return errors.New("--floor-server runs the floor server alone, without workloads")
		}
		return serveFloor(ctx, *floorAddr)
	}
	if len(names) == 0 {
		fs.Usage()
		return errors.New("name at least one workload")
	}
	if len(names) == 1 && names[0] == "standard" {
		names = []string{"send", "fanout", "delta", "inbox", "connections", "replay", "ceiling"}
		if !isFlagSet(fs, "events") {
			c.Events = 200000
		}
		if !isFlagSet(fs, "duration") {
			c.Duration = 10 * time.Second
		}
		if !isFlagSet(fs, "connections") {
			c.Connections = 5000
		}
	}
	for _, n := range names {
		if benchWorkloads[n] == nil {
			return fmt.Errorf("unknown workload %q", n)
		}
	}
	if note := procNote(runtime.GOOS); note != "" {
		fmt.Fprintln(stderr, note)
	}
	if *pprofAddr != "" {
		if err := profiling.Serve(*pprofAddr, slog.New(slog.NewTextHandler(stderr, nil))); err != nil {
			return fmt.Errorf("--pprof: %w", err)
		}
	}
	var results []Result
	for _, n := range names {
		r, err := benchWorkloads[n](ctx, c, stderr)
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		for _, x := range r {
			if c.URL == "" && x.Params != nil { // the server the harness started
				x.Params["sync"], x.Params["group_commit"] = c.Sync, c.GroupCommit
			}
			results = append(results, x)
		}
	}
	overFloor(results)
	if !c.JSON {
		printBenchTable(stdout, results)
		return nil
	}
	for _, x := range results {
		b, _ := json.Marshal(x)
		fmt.Fprintln(stdout, string(b))
	}
	return nil
}

// overFloor holds send and fanout to the floors ceiling measured in the same
// run, when it ran: send's extra.cpu_over_floor is its server CPU per send
// over the floor's (the log's append as serve makes it, plus a message
// row's insert: floor_cpu_us_per_send), and its extra.cpu_over_design_floor
// is over the append plus the projector's apply of a send at the live batch
// size (design_floor_cpu_us_per_send: the two writes the design makes of
// every send, with no HTTP); each fanout loop's is its CPU per delivery over
// the transport floor's in the same mode, and the open loop's
// extra.p99_over_floor its send-to-receive p99 over the floor's.
func overFloor(rs []Result) {
	var appendCPU, insertCPU, applyCPU float64
	floors := map[any]Result{}
	for _, r := range rs {
		if r.Workload != "ceiling" {
			continue
		}
		cpu, _ := r.Extra["process_cpu_us_per_msg"].(float64)
		switch r.Params["what"] {
		case "log_append":
			appendCPU = cpu
		case "sqlite_insert_message_rows":
			insertCPU = cpu
		case "projector_apply":
			applyCPU = cpu
		case "fanout_transport_floor":
			floors[r.Params["mode"]] = r
		}
	}
	for i := range rs {
		r := &rs[i]
		switch {
		case r.Workload == "send" && appendCPU > 0 && r.ServerCPUUsPerSend > 0:
			if r.Extra == nil {
				r.Extra = map[string]any{}
			}
			if insertCPU > 0 {
				r.Extra["floor_cpu_us_per_send"] = appendCPU + insertCPU
				r.Extra["cpu_over_floor"] = r.ServerCPUUsPerSend / (appendCPU + insertCPU)
			}
			if applyCPU > 0 {
				r.Extra["design_floor_cpu_us_per_send"] = appendCPU + applyCPU
				r.Extra["cpu_over_design_floor"] = r.ServerCPUUsPerSend / (appendCPU + applyCPU)
			}
		case r.Workload == "fanout":
			f, ok := floors[r.Params["mode"]]
			if !ok {
				continue
			}
			if r.Extra == nil {
				r.Extra = map[string]any{}
			}
			if f.ServerCPUUsPerDelivery > 0 && r.ServerCPUUsPerDelivery > 0 {
				r.Extra["cpu_over_floor"] = r.ServerCPUUsPerDelivery / f.ServerCPUUsPerDelivery
			}
			if r.Params["mode"] == "open-loop" && f.P99Ms > 0 && r.P99Ms > 0 {
				r.Extra["p99_over_floor"] = r.P99Ms / f.P99Ms
			}
		}
	}
}

func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// benchWorkloads are the named workloads.
var benchWorkloads = map[string]func(context.Context, benchConfig, io.Writer) ([]Result, error){
	"send":        benchSend,
	"delta":       benchDelta,
	"inbox":       benchInbox,
	"replay":      benchReplay,
	"ceiling":     benchCeiling,
	"fanout":      benchFanout,
	"connections": benchConnections,
	"bigroom":     benchBigroom,
	"search":      benchSearch,
	"attachments": benchAttachments,
	"soak":        benchSoak,
}

func printBenchTable(w io.Writer, rs []Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\trate\tp50 ms\tp90 ms\tp99 ms\tmax ms\terrors\tlost\tserver CPU\tsteal\tparameters\t")
	for _, r := range rs {
		rate := ""
		switch {
		case r.DeliveriesPerS > 0:
			rate = fmt.Sprintf("%.0f sends/s, %.0f deliveries/s", r.SendsPerS, r.DeliveriesPerS)
		case r.SendsPerS > 0:
			rate = fmt.Sprintf("%.0f sends/s", r.SendsPerS)
		case r.RSSPerConnKiB > 0:
			rate = fmt.Sprintf("%.1f KiB/conn", r.RSSPerConnKiB)
		case r.EventsPerS > 0:
			rate = fmt.Sprintf("%.0f events/s", r.EventsPerS)
		}
		cpu := ""
		switch {
		case r.ServerCPUUsPerDelivery > 0:
			cpu = fmt.Sprintf("%.1f µs/delivery", r.ServerCPUUsPerDelivery)
		case r.ServerCPUUsPerSend > 0:
			cpu = fmt.Sprintf("%.1f µs/send", r.ServerCPUUsPerSend)
		case r.ServerCPUUsPerRequest > 0:
			cpu = fmt.Sprintf("%.1f µs/request", r.ServerCPUUsPerRequest)
		}
		steal := ""
		if r.HostStealPct != nil {
			steal = fmt.Sprintf("%.1f %%", *r.HostStealPct)
		}
		var ps []string
		for k, v := range r.Params {
			ps = append(ps, fmt.Sprintf("%s=%v", k, v))
		}
		sort.Strings(ps)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t\n", r.Workload, rate, ms(r.P50Ms), ms(r.P90Ms), ms(r.P99Ms), ms(r.MaxMs), r.Errors, r.Lost, cpu, steal, strings.Join(ps, " "))
	}
	tw.Flush()
}

func ms(v float64) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f", v)
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
