package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parley/api"
	"parley/engine"
	"parley/internal/testkit"
)

// crashServer is `parley serve` as a child process that a test can kill -9.
type crashServer struct {
	t    *testing.T
	dir  string
	addr string
	args []string // extra serve flags
	cmd  *exec.Cmd
}

func (s *crashServer) start() {
	s.t.Helper()
	s.launch()
	s.waitUp()
}

// launch starts the process without waiting for it to serve.
func (s *crashServer) launch() {
	s.t.Helper()
	args := append([]string{"serve", "--addr", s.addr, "--data", s.dir, "--jwt-secret", testkit.Secret, "--log-level", "error", "--send-rate", "0"}, s.args...)
	s.cmd = exec.Command(os.Args[0], args...)
	s.cmd.Env = append(os.Environ(), "PARLEY_TEST_AS_MAIN=1")
	s.cmd.Stdout, s.cmd.Stderr = io.Discard, os.Stderr
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
}

// waitUp waits until the server answers /healthz.
func (s *crashServer) waitUp() {
	s.t.Helper()
	testkit.WaitFor(s.t, 90*time.Second, "the server to come up", func() bool {
		resp, err := http.Get("http://" + s.addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (s *crashServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil || s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Kill() // SIGKILL: no shutdown of any kind
	_ = s.cmd.Wait()
}

// post sends one JSON request and returns the status and body (status 0 when
// the server could not be reached).
func post(client *http.Client, url, token string, body any) (int, []byte) {
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// Concurrent sends with retries while the server is killed with SIGKILL and
// restarted several times: every send that got a 2xx is stored exactly
// once, every retry of a client_temp_id got the same message id, and verify
// finds the read models equal to a rebuild from the log.
func TestCrashSafetyUnderKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a server several times")
	}
	t.Setenv("PARLEY_TEST_AS_MAIN", "1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &crashServer{t: t, dir: t.TempDir(), addr: addr}
	s.start()
	defer func() { s.kill() }()
	base := "http://" + addr
	tok, err := api.MintToken([]byte(testkit.Secret), "alice", "", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	status, body := post(client, base+"/api/conversations", tok, map[string]any{"participant_ids": []string{"bob"}})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	var conv engine.ConversationDetail
	if err := json.Unmarshal(body, &conv); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	ids := map[string]map[string]bool{} // client_temp_id -> message ids answered with 2xx
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				ctid := fmt.Sprintf("w%d-%d", w, i)
				deadline := time.Now().Add(90 * time.Second)
				for tries := 0; ; tries++ {
					st, b := post(client, base+"/api/messages/"+conv.ID, tok, map[string]string{"body": "crash " + ctid, "client_temp_id": ctid})
					if st == http.StatusCreated || st == http.StatusOK {
						var m engine.Message
						if err := json.Unmarshal(b, &m); err != nil {
							t.Errorf("answer %s: %v", b, err)
							return
						}
						mu.Lock()
						if ids[ctid] == nil {
							ids[ctid] = map[string]bool{}
						}
						ids[ctid][m.ID] = true
						mu.Unlock()
						// Retry a few acknowledged sends once more on purpose.
						if i%5 != 0 || tries > 0 {
							break
						}
						continue
					}
					if st != 0 && st != http.StatusServiceUnavailable && st < 500 {
						t.Errorf("send %s: status %d %s", ctid, st, b)
						return
					}
					if time.Now().After(deadline) {
						t.Errorf("send %s never succeeded", ctid)
						return
					}
					time.Sleep(20 * time.Millisecond) // back off while the server restarts
				}
			}
		}()
	}
	countAcked := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(ids)
	}
	for round := range 3 {
		before := countAcked()
		testkit.WaitFor(t, 60*time.Second, "sends to be acknowledged", func() bool { return countAcked() >= before+150 })
		s.kill()
		t.Logf("round %d: killed after %d acknowledged sends", round, countAcked())
		s.start()
	}
	before := countAcked()
	testkit.WaitFor(t, 60*time.Second, "sends after the last restart", func() bool { return countAcked() >= before+100 })
	stop.Store(true)
	wg.Wait()

	// Every acknowledged client_temp_id maps to exactly one message id and
	// is stored exactly once.
	stored := map[string]int{}
	before = 0
	cursor := ""
	for {
		q := "?limit=200"
		if cursor != "" {
			q += "&before_id=" + cursor
		}
		req, _ := http.NewRequest("GET", base+"/api/messages/"+conv.ID+q, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page engine.MessagePage
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Messages {
			stored[m.ClientTempID]++
			if got := ids[m.ClientTempID]; got != nil && !got[m.ID] {
				t.Errorf("%s is stored as %s, but the answers named %v", m.ClientTempID, m.ID, got)
			}
		}
		if !page.HasMore {
			break
		}
		cursor = *page.NextBefore
	}
	for ctid, answered := range ids {
		if len(answered) != 1 {
			t.Errorf("%s was answered with %d different message ids: %v", ctid, len(answered), answered)
		}
		if stored[ctid] != 1 {
			t.Errorf("acknowledged %s is stored %d times", ctid, stored[ctid])
		}
	}
	for ctid, n := range stored {
		if n != 1 {
			t.Errorf("%s is stored %d times", ctid, n)
		}
	}
	t.Logf("%d acknowledged sends, %d stored messages", len(ids), len(stored))
	out, err := runCmd(t, "verify", "--data", s.dir)
	if err != nil || !strings.Contains(out, "verify: equal") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
}
