package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parley/api"
	"parley/engine"
	"parley/internal/testkit"
)

// notifySocket listens where a Type=notify service reports to systemd
// (NOTIFY_SOCKET) and collects what the service says.
type notifySocket struct {
	path string
	mu   sync.Mutex
	got  []string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	n := &notifySocket{path: filepath.Join(t.TempDir(), "notify.sock")}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.got = append(n.got, strings.Split(string(buf[:k]), "\n")...)
			n.mu.Unlock()
		}
	}()
	return n
}

// said reports whether the service sent this line.
func (n *notifySocket) said(line string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, l := range n.got {
		if l == line {
			return true
		}
	}
	return false
}

// jsLines runs a client script and hands over its stdout line by line.
type jsLines struct {
	lines chan map[string]any
	done  chan error
	err   bytes.Buffer
}

func runJS(t *testing.T, nodeBin, script string, params any) *jsLines {
	t.Helper()
	raw, _ := json.Marshal(params)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, nodeBin, script)
	cmd.Dir = rtClientDir
	cmd.Env = append(os.Environ(), "PARLEY_TEST="+string(raw))
	js := &jsLines{lines: make(chan map[string]any, 1024), done: make(chan error, 1)}
	cmd.Stderr = &js.err
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				js.lines <- m
			}
		}
		close(js.lines)
		js.done <- cmd.Wait()
	}()
	return js
}

// await reads lines until one has ev == event (and, if set, is accepted by
// ok); it fails the test at the deadline or when the script ends first.
func (js *jsLines) await(t *testing.T, event string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	limit := time.After(90 * time.Second)
	for {
		select {
		case m, open := <-js.lines:
			if !open {
				t.Fatalf("the client script ended before %q: %v\n%s", event, <-js.done, js.err.String())
			}
			if m["ev"] == event && (ok == nil || ok(m)) {
				return m
			}
		case <-limit:
			t.Fatalf("the client saw no %q in 90 s\n%s", event, js.err.String())
		}
	}
}

// On SIGTERM, as systemd stops the unit, `parley serve` tells systemd it is
// stopping, refuses new connections, closes its sockets with 4200
// (pusher-js reconnects), answers the sends in flight (one of them still
// sending its body after the signal), and exits 0; every send answered 2xx is in the log after
// a restart, and a real Echo client reconnects and goes on receiving.
func TestSIGTERMDrainsAndExitsCleanly(t *testing.T) {
	nodeBin := rtNode(t)
	notify := listenNotify(t)
	c := &child{t: t, bin: parleyBinary(t), addr: freeAddr(t), dir: t.TempDir(), env: []string{"NOTIFY_SOCKET=" + notify.path}}
	c.start()
	testkit.WaitFor(t, 10*time.Second, "READY=1 on the notify socket", func() bool { return notify.said("READY=1") })
	base := "http://" + c.addr
	alice, _ := api.MintToken([]byte(testkit.Secret), "alice", "", false, time.Hour)
	bob, _ := api.MintToken([]byte(testkit.Secret), "bob", "", false, time.Hour)
	client := &http.Client{Timeout: 20 * time.Second}
	st, body := post(client, base+"/api/conversations", alice, map[string]any{"participant_ids": []string{"bob"}})
	if st != http.StatusCreated {
		t.Fatalf("create: %d %s", st, body)
	}
	var conv engine.ConversationDetail
	if err := json.Unmarshal(body, &conv); err != nil {
		t.Fatal(err)
	}

	host, port, _ := net.SplitHostPort(c.addr)
	js := runJS(t, nodeBin, "shutdown_flow.mjs", map[string]any{"host": host, "port": port, "key": rtKey, "conversation": conv.ID, "token": bob})
	first := js.await(t, "subscribed", nil)["socket"]
	raw := dialChild(t, c.addr)

	// Senders that never stop on their own: some are in flight at the signal.
	var mu sync.Mutex
	acked := map[string]string{} // client_temp_id -> message id, answered 2xx
	var afterSignal atomic.Int64
	var signalled, stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				ctid := fmt.Sprintf("w%d-%d", w, i)
				st, b := post(client, base+"/api/messages/"+conv.ID, alice, map[string]string{"body": "drain " + ctid, "client_temp_id": ctid})
				if st != http.StatusCreated && st != http.StatusOK {
					if signalled.Load() {
						return // the server is going: refused, closed or 503
					}
					t.Errorf("send %s before the signal: %d %s", ctid, st, b)
					return
				}
				var m engine.Message
				if err := json.Unmarshal(b, &m); err != nil {
					t.Errorf("answer %s: %v", b, err)
					return
				}
				mu.Lock()
				acked[ctid] = m.ID
				mu.Unlock()
				if signalled.Load() {
					afterSignal.Add(1)
				}
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	testkit.WaitFor(t, 60*time.Second, "200 acknowledged sends", func() bool { return count() >= 200 })
	// One send is surely in flight at the signal: its headers go before it,
	// its body after.
	held := holdSend(t, c.addr, alice, conv.ID, "held-across-the-signal")
	signalled.Store(true)
	c.term()
	testkit.WaitFor(t, 10*time.Second, "new connections to be refused after SIGTERM", func() bool {
		conn, err := net.DialTimeout("tcp", c.addr, time.Second)
		if err != nil {
			return true
		}
		conn.Close()
		return false
	})
	m := held.finish(t, c.stderr)
	if m.ClientTempID != "held-across-the-signal" {
		t.Fatalf("the held send was answered with %+v", m)
	}
	mu.Lock()
	acked[m.ClientTempID] = m.ID
	mu.Unlock()
	code := c.wait(30 * time.Second) // the unit's TimeoutStopSec
	stop.Store(true)
	wg.Wait()
	if code != 0 {
		t.Fatalf("parley serve exited %d after SIGTERM\n%s", code, c.stderr())
	}
	testkit.WaitFor(t, 5*time.Second, "STOPPING=1 on the notify socket", func() bool { return notify.said("STOPPING=1") })
	if got := raw.waitClosed(); got != 4200 {
		t.Errorf("a socket was closed with %d at shutdown, want 4200 (reconnect)", got)
	}
	t.Logf("%d sends acknowledged, %d of them after SIGTERM", count(), afterSignal.Load())

	c.start()
	stored := map[string]int{}
	for _, m := range history(t, client, base, alice, conv.ID) {
		stored[m.ClientTempID]++
		if id, ok := acked[m.ClientTempID]; ok && id != m.ID {
			t.Errorf("%s answered as %s, stored as %s", m.ClientTempID, id, m.ID)
		}
	}
	for ctid := range acked {
		if stored[ctid] != 1 {
			t.Errorf("acknowledged send %s stored %d times after the restart", ctid, stored[ctid])
		}
	}

	// The Echo client reconnects to the restarted server by itself and
	// receives what is sent there.
	js.await(t, "subscribed", func(m map[string]any) bool { return m["socket"] != first })
	if st, b := post(client, base+"/api/messages/"+conv.ID, alice, map[string]string{"body": "after-restart", "client_temp_id": "after-restart"}); st != http.StatusCreated {
		t.Fatalf("send after the restart: %d %s", st, b)
	}
	js.await(t, "message", func(m map[string]any) bool { return m["body"] == "after-restart" })
	if err := <-js.done; err != nil {
		t.Fatalf("client script: %v\n%s", err, js.err.String())
	}
}

// A second SIGTERM ends the process at once, even while the first one's
// shutdown waits for a client that never answers its close.
func TestSecondSIGTERMExitsAtOnce(t *testing.T) {
	c := &child{t: t, bin: parleyBinary(t), addr: freeAddr(t), dir: t.TempDir()}
	c.start()
	deafChild(t, c.addr)
	c.term()
	testkit.WaitFor(t, 10*time.Second, "the first signal's shutdown to begin", func() bool {
		return strings.Contains(c.stderr(), "shutting down")
	})
	select {
	case <-c.exited:
		t.Fatalf("parley serve exited before the second signal, although a socket never answered its close\n%s", c.stderr())
	default:
	}
	c.term()
	if code := c.wait(3 * time.Second); code != 1 {
		t.Fatalf("exit code %d after a second SIGTERM, want 1\n%s", code, c.stderr())
	}
	if !strings.Contains(c.stderr(), "second signal") {
		t.Errorf("no word of the second signal in the log:\n%s", c.stderr())
	}
}

// heldSend is a send whose handler is running, waiting for a body that is
// not on the wire yet.
type heldSend struct {
	conn net.Conn
	r    *bufio.Reader
	body []byte
}

// holdSend opens a connection and sends the headers of a send with
// "Expect: 100-continue"; the server's "100 Continue" says the handler has
// started reading the body, which holdSend holds back until finish.
func holdSend(t *testing.T, addr, token, conv, ctid string) *heldSend {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"body": "held " + ctid, "client_temp_id": ctid})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	head := fmt.Sprintf("POST /api/messages/%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", conv, addr, token, len(body))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(rtWait))
	r := bufio.NewReader(conn)
	status, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 100 ") {
		t.Fatalf("the held send: %q %v, want 100 Continue", status, err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	return &heldSend{conn: conn, r: r, body: body}
}

// finish sends the held body and requires a 201 with the stored message.
func (h *heldSend) finish(t *testing.T, stderr func() string) engine.Message {
	t.Helper()
	_ = h.conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := h.conn.Write(h.body); err != nil {
		t.Fatalf("the held send's body: %v", err)
	}
	resp, err := http.ReadResponse(h.r, nil)
	if err != nil {
		t.Fatalf("the send in flight at SIGTERM got no answer: %v\n%s", err, stderr())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("the send in flight at SIGTERM: %d %s, want 201", resp.StatusCode, b)
	}
	var m engine.Message
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// dialChild opens a raw Pusher socket to a child server and waits for
// connection_established.
func dialChild(t *testing.T, addr string) *rtSocket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+addr+"/app/"+rtKey+"?protocol=7", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	s := rtWrap(t, conn)
	s.next("pusher:connection_established")
	return s
}

// deafChild opens a socket to a child server that reads
// connection_established and then nothing: it never answers a close.
func deafChild(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+addr+"/app/"+rtKey+"?protocol=7", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	if _, _, err := conn.Read(ctx); err != nil {
		t.Fatal(err)
	}
}

// post sends one JSON request and returns the status and body (status 0
// when the server could not be reached).
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

// history pages through a conversation's messages, newest first.
func history(t *testing.T, client *http.Client, base, tok, conv string) []engine.Message {
	t.Helper()
	var all []engine.Message
	cursor := ""
	for {
		q := "?limit=200"
		if cursor != "" {
			q += "&before_id=" + cursor
		}
		req, _ := http.NewRequest("GET", base+"/api/messages/"+conv+q, nil)
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
		all = append(all, page.Messages...)
		if !page.HasMore || page.NextBefore == nil {
			return all
		}
		cursor = *page.NextBefore
	}
}
