package e2e_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"parley/internal/testkit"
)

// built is the parley binary the deploy tests run as a child process, as
// systemd runs it: built once per test run, removed by TestMain.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// parleyBinary builds cmd/parley (once) and returns its path.
func parleyBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "parley-e2e-bin-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "parley")
		out, err := exec.Command("go", "build", "-o", built.path, "../cmd/parley").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build ./cmd/parley: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// child is `parley serve` as a separate process, stopped with signals.
type child struct {
	t      *testing.T
	bin    string
	addr   string
	dir    string
	env    []string
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	log    strings.Builder // stderr, kept for failures and checks
}

// start launches `parley serve` and waits until it answers /healthz.
func (c *child) start(args ...string) {
	c.t.Helper()
	args = append([]string{"serve", "--addr", c.addr, "--data", c.dir, "--jwt-secret", testkit.Secret,
		"--app-key", rtKey, "--app-secret", rtSecret, "--send-rate", "0"}, args...)
	c.cmd = exec.Command(c.bin, args...)
	c.cmd.Env = append(os.Environ(), c.env...)
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.exited = make(chan struct{})
	go func() {
		c.copyLog(stderr)
		_ = c.cmd.Wait()
		close(c.exited)
	}()
	c.t.Cleanup(c.kill)
	testkit.WaitFor(c.t, 60*time.Second, "parley serve to answer /healthz", func() bool {
		select {
		case <-c.exited:
			c.t.Fatalf("parley serve exited: %v\n%s", c.cmd.ProcessState, c.stderr())
		default:
		}
		resp, err := http.Get("http://" + c.addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (c *child) copyLog(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		c.mu.Lock()
		c.log.WriteString(sc.Text() + "\n")
		c.mu.Unlock()
	}
}

func (c *child) stderr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.String()
}

// term sends SIGTERM, as systemd stops a service.
func (c *child) term() {
	c.t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		c.t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (c *child) wait(timeout time.Duration) int {
	c.t.Helper()
	select {
	case <-c.exited:
		return c.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		c.t.Fatalf("parley serve still running %v after the signal\n%s", timeout, c.stderr())
		return -1
	}
}

func (c *child) kill() {
	if c.cmd != nil && c.cmd.Process != nil {
		select {
		case <-c.exited:
		default:
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	}
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
