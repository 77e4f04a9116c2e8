package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"parley/api"
	"parley/internal/testkit"
)

// An acknowledgement is never sent before the fsync that covers it: under
// strace, every send answered 201 was written to a block file of the
// MESSAGES stream, and an fsync of that file began after the write and
// ended before the answer was written to the client's socket. The same
// check run against --sync interval (no fsync before the ack) finds
// answers with no fsync before them, so the check can fail.
func TestAckNeverPrecedesTheFsyncThatCoversIt(t *testing.T) {
	straceBin, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed (apt-get install strace; .ci/run installs it): the fsync trace needs it")
	}
	for _, mode := range []struct {
		name     string
		args     []string
		violates bool
	}{
		{"default (fsync before the ack, group commit)", nil, false},
		{"--sync interval (the check's negative control)", []string{"--sync", "interval"}, true},
	} {
		t.Run(mode.name, func(t *testing.T) {
			tr := traceSends(t, straceBin, mode.args, 8, 12)
			bad := tr.violations()
			if mode.violates {
				if len(bad) == 0 {
					t.Fatalf("with %v the trace shows an fsync before each of %d answers: the check cannot tell", mode.args, len(tr.acked))
				}
				return
			}
			for _, b := range bad {
				t.Error(b)
			}
			t.Logf("%d answers, each after the fsync of its block (%d fsyncs of the log's blocks)", len(tr.acked), tr.blockFsyncs())
		})
	}
}

// sysEvent is one system call of the trace: when it began and ended, and
// its arguments as strace prints them (with -y, a file descriptor shows
// its path).
type sysEvent struct {
	name       string
	start, end float64
	args       string
}

type fsyncTrace struct {
	events []sysEvent
	acked  []string // client_temp_ids answered 201
}

// traceSends runs `parley serve` under strace, sends senders × each
// messages concurrently, stops the server and parses the trace.
func traceSends(t *testing.T, straceBin string, args []string, senders, each int) *fsyncTrace {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "trace.txt")
	addr := freeAddr(t)
	serve := append([]string{"-f", "-qq", "-ttt", "-y", "-s", "1048576", "-e", "trace=pwrite64,write,writev,fsync,fdatasync",
		"-o", out, parleyBinary(t), "serve", "--addr", addr, "--data", filepath.Join(dir, "data"), "--jwt-secret", testkit.Secret,
		"--send-rate", "0", "--log-level", "warn"}, args...)
	cmd := exec.Command(straceBin, serve...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // strace and parley, killed together
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	base := "http://" + addr
	testkit.WaitFor(t, 60*time.Second, "parley serve under strace to answer /healthz", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	alice, _ := api.MintToken([]byte(testkit.Secret), "alice", "", false, time.Hour)
	client := &http.Client{Timeout: 30 * time.Second}
	st, body := post(client, base+"/api/conversations", alice, map[string]any{"participant_ids": []string{"bob"}})
	if st != http.StatusCreated {
		t.Fatalf("create: %d %s", st, body)
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.ID == "" {
		t.Fatalf("create: %s %v", body, err)
	}
	conv := created.ID

	tr := &fsyncTrace{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ctid := fmt.Sprintf("fsync-check-%d-%d", w, i)
				st, b := post(client, base+"/api/messages/"+conv, alice, map[string]string{"body": "durable", "client_temp_id": ctid})
				if st != http.StatusCreated {
					t.Errorf("send %s: %d %s", ctid, st, b)
					return
				}
				mu.Lock()
				tr.acked = append(tr.acked, ctid)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	// Stop parley (strace's child) and let strace write the rest.
	pid := tracee(t, cmd.Process.Pid)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("strace parley serve: %v\n%s", waitErr, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("parley serve under strace did not stop\n%s", stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	tr.events = parseStrace(t, string(raw))
	return tr
}

// tracee is the process strace started: its only child.
func tracee(t *testing.T, stracePid int) int {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", stracePid, stracePid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(raw))
	if len(f) != 1 {
		t.Fatalf("strace has children %q, want one", f)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// straceLine is "PID TIME CALL...", the PID padded with spaces.
var straceLine = regexp.MustCompile(`^(\d+)\s+(\d+\.\d+)\s+(.*)$`)

// parseStrace reads `strace -f -ttt` lines, joining a call left
// <unfinished ...> with its resumption, into calls with start and end.
func parseStrace(t *testing.T, text string) []sysEvent {
	t.Helper()
	type open struct {
		ev  sysEvent
		set bool
	}
	pending := map[string]*open{}
	var out []sysEvent
	for _, line := range strings.Split(text, "\n") {
		f := straceLine.FindStringSubmatch(line)
		if f == nil {
			continue
		}
		pid, rest := f[1], f[3]
		at, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			continue
		}
		if strings.HasPrefix(rest, "<... ") {
			if p := pending[pid]; p != nil && p.set {
				p.ev.end = at
				p.ev.args += " " + rest // its return value
				out = append(out, p.ev)
				p.set = false
			}
			continue
		}
		paren := strings.IndexByte(rest, '(')
		if paren <= 0 {
			continue
		}
		ev := sysEvent{name: rest[:paren], start: at, end: at, args: rest[paren+1:]}
		if strings.HasSuffix(rest, "<unfinished ...>") {
			pending[pid] = &open{ev: ev, set: true}
			continue
		}
		out = append(out, ev)
	}
	if len(out) == 0 {
		t.Fatalf("the trace holds no system calls:\n%.2000s", text)
	}
	return out
}

// isLogBlock reports whether a call's first argument is a block file of
// the MESSAGES stream (not a staging batch's).
func isLogBlock(args string) bool {
	fd, _, _ := strings.Cut(args, ",")
	fd, _, _ = strings.Cut(fd, ")")
	return strings.Contains(fd, "/streams/MESSAGES/msgs/") && strings.Contains(fd, ".blk>")
}

// blockPath is the path strace shows for a call's file descriptor.
func blockPath(args string) string {
	i, j := strings.IndexByte(args, '<'), strings.IndexByte(args, '>')
	if i < 0 || j < i {
		return ""
	}
	return args[i+1 : j]
}

func (tr *fsyncTrace) blockFsyncs() int {
	n := 0
	for _, e := range tr.events {
		if (e.name == "fsync" || e.name == "fdatasync") && isLogBlock(e.args) {
			n++
		}
	}
	return n
}

// violations lists every answered send whose answer was not preceded by
// its write to a log block and then an fsync of that block.
func (tr *fsyncTrace) violations() []string {
	var bad []string
	for _, ctid := range tr.acked {
		// strace escapes the quotes of the JSON it shows.
		needle := `\"` + ctid + `\"`
		ack := -1
		for i, e := range tr.events {
			if (e.name == "write" || e.name == "writev") && strings.Contains(e.args, "HTTP/1.1 201") && strings.Contains(e.args, needle) {
				ack = i
				break
			}
		}
		if ack < 0 {
			bad = append(bad, fmt.Sprintf("%s: its 201 answer is not in the trace", ctid))
			continue
		}
		answered := tr.events[ack].start
		written := -1
		for i, e := range tr.events {
			if e.end <= answered && (e.name == "pwrite64" || e.name == "write" || e.name == "writev") && isLogBlock(e.args) && strings.Contains(e.args, needle) {
				written = i
			}
		}
		if written < 0 {
			bad = append(bad, fmt.Sprintf("%s: answered before any write of it to a log block", ctid))
			continue
		}
		w := tr.events[written]
		synced := false
		for _, e := range tr.events {
			if (e.name == "fsync" || e.name == "fdatasync") && blockPath(e.args) == blockPath(w.args) &&
				e.start >= w.end && e.end <= answered && strings.Contains(e.args, "= 0") {
				synced = true
				break
			}
		}
		if !synced {
			bad = append(bad, fmt.Sprintf("%s: answered at %.6f, written to %s at %.6f, and no fsync of it in between", ctid, answered, blockPath(w.args), w.end))
		}
	}
	return bad
}
