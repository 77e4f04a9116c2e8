package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"parley/api"
	"parley/internal/node"
)

// benchServer is the server a workload drives: started by the harness, or
// given with --url.
type benchServer struct {
	URL     string
	DataDir string
	Secret  []byte
	pid     int
	cmd     *exec.Cmd
	tmp     string
	client  *http.Client
}

func startBenchServer(ctx context.Context, c benchConfig, stderr io.Writer) (*benchServer, error) {
	s := &benchServer{client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute,
	}}}
	if c.URL != "" {
		s.URL, s.DataDir, s.pid = strings.TrimRight(c.URL, "/"), c.DataDir, c.PID
		secret := c.JWTSecret
		if secret == "" && c.DataDir != "" {
			b, err := node.JWTSecret("", c.DataDir)
			if err != nil {
				return nil, err
			}
			secret = string(b)
		}
		if secret == "" {
			return nil, errors.New("with --url, give --jwt-secret (or --data) so the harness can mint users")
		}
		s.Secret = []byte(secret)
		return s, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if s.tmp, err = os.MkdirTemp("", "parley-bench-"); err != nil {
		return nil, err
	}
	s.DataDir = filepath.Join(s.tmp, "data")
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	s.Secret = []byte(hex.EncodeToString(raw))
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	s.URL = "http://" + addr
	args := []string{"serve", "--addr", addr, "--data", s.DataDir, "--jwt-secret", string(s.Secret),
		"--log-level", "warn", "--sync", c.Sync, fmt.Sprintf("--group-commit=%t", c.GroupCommit), "--send-rate", "0",
		"--max-connections-per-ip", "0", // every bench socket comes from loopback
		"--max-connections", fmt.Sprint(max(10000, c.Connections+100))} // connections opens 50 more to warm up
	s.cmd = exec.Command(exe, append(args, c.serveArgs...)...)
	s.cmd.Stdout, s.cmd.Stderr = stderr, stderr
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	s.pid = s.cmd.Process.Pid
	if err := s.waitHealthy(ctx, 60*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// waitHealthy waits until the server answers /healthz with 200, or fails
// after timeout.
func (s *benchServer) waitHealthy(ctx context.Context, timeout time.Duration) error {
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := s.client.Get(s.URL + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("server at %s did not come up", s.URL)
		}
	}
}

// freeLoopbackAddr picks a free loopback port for a child server. The port
// is free when picked; another process could take it before the child
// listens, in which case the child fails to start and the harness says so.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Stop ends a server the harness started and removes its data.
func (s *benchServer) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
	}
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
	}
}

// cpu is the server's user+system CPU time so far (0 when unknown).
func (s *benchServer) cpu() time.Duration {
	if s.pid == 0 {
		return 0
	}
	return procCPU(s.pid)
}

// harnessCPU is the harness's own user+system CPU time so far. It shares the
// machine with the server, so its cost per send is reported next to the
// server's: on two cores, what one spends the other cannot.
func harnessCPU() time.Duration { return procCPU(os.Getpid()) }

// harnessShare is the extra field that carries the harness's CPU time per
// send over a measured window (nil when nothing was sent).
func harnessShare(own time.Duration, sends int64) map[string]any {
	if sends <= 0 || own <= 0 {
		return nil
	}
	return map[string]any{"harness_cpu_us_per_send": float64(own.Microseconds()) / float64(sends)}
}

// procCPU is a process's user+system CPU time so far, from /proc (0 when
// unknown).
func procCPU(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields of the whole line.
	rest := string(raw)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+2:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // sysconf(_SC_CLK_TCK) on Linux
	return time.Duration(ut+st) * time.Second / clkTck
}

// rssKiB is the server's resident memory (0 when unknown).
func (s *benchServer) rssKiB() int64 {
	if s.pid == 0 {
		return 0
	}
	return procStatusKiB(s.pid, "VmRSS:")
}

func procStatusKiB(pid int, field string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// waitCaughtUp waits until the server's messages projection has applied
// seq.
func (s *benchServer) waitCaughtUp(ctx context.Context, seq uint64, timeout time.Duration) error {
	return s.waitOps(ctx, timeout, fmt.Sprintf("project up to seq %d", seq), func(st *api.OpsStats) bool {
		for _, p := range st.Projections {
			if p.Name == "messages" && p.Checkpoint >= seq {
				return true
			}
		}
		return false
	})
}

// waitIdle waits until the server has made every notification the load
// so far asks for (its notifications queue is empty), so a latency
// measurement that follows sees the server at rest, not its backlog.
func (s *benchServer) waitIdle(ctx context.Context, timeout time.Duration) error {
	return s.waitOps(ctx, timeout, "drain its notifications queue", func(st *api.OpsStats) bool {
		for _, c := range st.Consumers {
			if c.Name == "notifications" && (c.Pending > 0 || c.AckPending > 0) {
				return false
			}
		}
		return true
	})
}

// settle waits, at most limit (and one more half second), until the
// server's CPU time over half a second is under 5 % of a core, and returns
// how long it waited and whether the server got there. A fill leaves work
// behind that is not the read a latency workload measures: after 1,000,000
// messages the server's collector marks about 190 MB of live heap, half a
// second of one core per cycle. The reads' own garbage is collected as it
// would be anyway. Without the server's CPU time (--url without --pid, or
// a server gone) it cannot tell: it returns at once, not settled.
func (s *benchServer) settle(ctx context.Context, limit time.Duration, stderr io.Writer) (time.Duration, bool) {
	const span, quiet = 500 * time.Millisecond, 25 * time.Millisecond
	start := time.Now()
	if s.pid == 0 || limit <= 0 {
		return 0, false
	}
	for time.Since(start) < limit {
		cpu0 := s.cpu()
		select {
		case <-ctx.Done():
			return time.Since(start), false
		case <-time.After(span):
		}
		cpu1 := s.cpu()
		if cpu0 == 0 || cpu1 == 0 {
			fmt.Fprintln(stderr, "parley bench: cannot read the server's CPU time; measuring without settling")
			return time.Since(start), false
		}
		if cpu1-cpu0 < quiet {
			return time.Since(start), true
		}
	}
	fmt.Fprintf(stderr, "parley bench: the server's CPU did not settle in %v; measuring anyway (extra.settled false)\n", limit)
	return time.Since(start), false
}

// readyToMeasure waits until the server has made every notification of the
// fill (waitIdle) and its CPU has settled (settle, at most c.QuietWait), and
// records the settle in r's extra fields.
func (s *benchServer) readyToMeasure(ctx context.Context, c benchConfig, r *Result, stderr io.Writer) error {
	if err := s.waitIdle(ctx, 10*time.Minute); err != nil {
		return err
	}
	waited, calm := s.settle(ctx, c.QuietWait, stderr)
	if r.Extra == nil {
		r.Extra = map[string]any{}
	}
	r.Extra["settle_s"], r.Extra["settled"] = waited.Seconds(), calm
	return ctx.Err()
}

// waitOps polls the server's ops stats (with an ops token) until done says
// so, or fails after timeout saying the server did not do what.
func (s *benchServer) waitOps(ctx context.Context, timeout time.Duration, what string, done func(*api.OpsStats) bool) error {
	tok, err := api.MintToken(s.Secret, "bench-ops", "", true, time.Hour)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		var st api.OpsStats
		if _, err := s.do("GET", "/api/ops/stats", tok, nil, &st); err == nil && done(&st) {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the server did not %s in %v", what, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
