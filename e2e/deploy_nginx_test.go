package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"parley/internal/node"
)

// TestNginxSiteServesEverythingOverTLS runs Debian's nginx with the shipped
// site (deploy/nginx/parley.conf) in front of a node and checks, through
// the proxy only: the page over HTTP/2, /api/config sending Echo to the
// proxy over wss, the real laravel-echo + pusher-js (presence, a private
// channel signed by /broadcasting/auth, a whisper, a live message.sent),
// the Pusher HTTP API from the official server SDK, SSE arriving within a
// second of the send, and per-address socket limits counting the client's
// address (X-Forwarded-For), not the proxy's.
func TestNginxSiteServesEverythingOverTLS(t *testing.T) {
	nodeBin := rtNode(t)
	env := rtStart(t, func(c *node.Config) {
		c.AppID = rtAppID
		c.MaxConnectionsPerIP = 2
		c.TrustedProxies = "127.0.0.1/32" // nginx; the test's other loopback addresses are clients
	})
	px := startNginx(t, env.Node.Addr())
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := rtConv(t, env, alice, "bob")

	t.Run("page over HTTP/2", func(t *testing.T) {
		resp, err := px.client(true).Get(px.base + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET / through nginx: %d %s %q, want 200 over HTTP/2 with the page", resp.StatusCode, resp.Proto, resp.Header.Get("Content-Type"))
		}
	})

	t.Run("config names the proxy", func(t *testing.T) {
		resp, err := px.client(false).Get(px.base + "/api/config")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got echoConfig
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		want := echoConfig{WSHost: "127.0.0.1", WSPort: px.port, WSSPort: px.port, ForceTLS: true, AuthEndpoint: px.base + "/broadcasting/auth"}
		if got != want {
			t.Fatalf("/api/config through nginx: %+v, want %+v", got, want)
		}
	})

	t.Run("echo and pusher-js over wss", func(t *testing.T) {
		params, _ := json.Marshal(map[string]any{
			"base": px.base, "appId": rtAppID, "secret": rtSecret, "conversation": conv,
			"tokens": map[string]string{"alice": alice, "bob": bob},
		})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, nodeBin, "nginx_flow.mjs")
		cmd.Dir = rtClientDir
		cmd.Env = append(os.Environ(), "PARLEY_TEST="+string(params), "NODE_EXTRA_CA_CERTS="+px.caFile)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("node nginx_flow.mjs: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
		}
		var got struct {
			AliceSees []string `json:"aliceSees"`
			BobSees   []string `json:"bobSees"`
			Whisper   struct {
				Typing bool `json:"typing"`
			} `json:"whisper"`
			SentID       string   `json:"sentId"`
			Delivered    []string `json:"delivered"`
			Announcement struct {
				Text string `json:"text"`
			} `json:"announcement"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
			t.Fatalf("client output %q: %v (stderr %s)", stdout.String(), err, stderr.String())
		}
		t.Logf("clients through nginx saw: %s", stdout.String())
		if !slices.Contains(got.AliceSees, "bob") || !slices.Contains(got.BobSees, "alice") {
			t.Errorf("presence-messaging: alice sees %v, bob sees %v", got.AliceSees, got.BobSees)
		}
		if !got.Whisper.Typing {
			t.Errorf("whisper: %+v", got.Whisper)
		}
		if got.SentID == "" || !slices.Equal(got.Delivered, []string{got.SentID}) {
			t.Errorf("message.sent delivered %v, want exactly [%s]", got.Delivered, got.SentID)
		}
		if got.Announcement.Text != "hello through nginx" {
			t.Errorf("Pusher HTTP API event: %+v", got.Announcement)
		}
	})

	t.Run("SSE unbuffered", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", px.base+"/api/stream", nil)
		req.Header.Set("Authorization", "Bearer "+bob)
		resp, err := px.client(false).Transport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/stream through nginx: %d", resp.StatusCode)
		}
		type line struct {
			text string
			at   time.Time
		}
		lines := make(chan line, 256)
		go func() {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				select {
				case lines <- line{sc.Text(), time.Now()}:
				case <-ctx.Done():
					return
				}
			}
			close(lines)
		}()
		// The stream is open once the proxy has passed its first bytes on
		// (Parley's opening comment or retry line).
		select {
		case <-lines:
		case <-time.After(rtWait):
			t.Fatal("no bytes of the SSE stream came through nginx")
		}
		m := px.send(t, alice, conv, "sse-through-nginx")
		answered := time.Now()
		// A proxy that buffers holds the event until its buffer fills, far
		// past this wait; the event must come within a second of the answer
		// (stamped as it is read, so a slow test machine does not count).
		limit := time.NewTimer(5 * time.Second)
		defer limit.Stop()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatal("the SSE stream ended")
				}
				if strings.HasPrefix(l.text, "data:") && strings.Contains(l.text, m.ID) {
					took := l.at.Sub(answered)
					t.Logf("SSE event through nginx %v after the send was answered", took.Round(time.Millisecond))
					if took > time.Second {
						t.Fatalf("message %s came over SSE through nginx %v after the send: the proxy holds events", m.ID, took)
					}
					return
				}
			case <-limit.C:
				t.Fatalf("message %s did not arrive over SSE through nginx within 5 s of the send: the proxy holds events", m.ID)
			}
		}
	})

	t.Run("limits count the client address", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			px.dialFrom(t, "127.0.0.2").next("pusher:connection_established")
		}
		px.dialFrom(t, "127.0.0.2").refused("a third socket from 127.0.0.2 through nginx", 4100)
		f := px.dialFrom(t, "127.0.0.3").nextWhere("", func(f rtFrame) bool {
			return f.Event == "pusher:connection_established" || f.Event == "pusher:error"
		})
		if f.Event != "pusher:connection_established" {
			t.Fatalf("a socket from 127.0.0.3 through the same nginx: %s %s; the limit counted the proxy, not the client", f.Event, f.Data)
		}
	})
}
