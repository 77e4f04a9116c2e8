package e2e_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parley/engine"
	"parley/internal/node"
	"parley/internal/testkit"
)

// Test nodes use fixed Pusher credentials so tests can sign as a host app would.
const (
	rtKey    = "parleytestkey"
	rtSecret = "parleytestsecret"
	rtWait   = 10 * time.Second
)

// rtStart starts a node with realtime on and the test credentials.
func rtStart(t testing.TB, opts ...func(*node.Config)) *testkit.Env {
	t.Helper()
	return testkit.Start(t, append([]func(*node.Config){func(c *node.Config) {
		c.AppKey, c.AppSecret = rtKey, rtSecret
	}}, opts...)...)
}

// rtFrame is a Pusher frame as the server sent it.
type rtFrame struct {
	Event   string `json:"event"`
	Channel string `json:"channel"`
	Data    string `json:"data"`
	UserID  string `json:"user_id"`
}

// decode parses the frame's JSON-encoded data into v.
func (f rtFrame) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(f.Data), v); err != nil {
		t.Fatalf("decode %s data %q: %v", f.Event, f.Data, err)
	}
}

// rtSocket is a raw Pusher WebSocket client: a reader goroutine queues every
// frame; tests wait for the ones they expect.
type rtSocket struct {
	t        testing.TB
	conn     *websocket.Conn
	frames   chan rtFrame
	closed   chan struct{}
	mu       sync.Mutex
	closeErr error
	socketID string
}

// rtDial connects to /app/<key>?protocol=7 and waits for
// connection_established.
func rtDial(t testing.TB, env *testkit.Env) *rtSocket {
	t.Helper()
	s := rtDialRaw(t, env, "/app/"+rtKey+"?protocol=7", nil)
	f := s.next("pusher:connection_established")
	var est struct {
		SocketID        string `json:"socket_id"`
		ActivityTimeout int    `json:"activity_timeout"`
	}
	f.decode(t, &est)
	if est.SocketID == "" || est.ActivityTimeout <= 0 {
		t.Fatalf("connection_established without socket_id or activity_timeout: %s", f.Data)
	}
	s.socketID = est.SocketID
	return s
}

// rtDialRaw opens a WebSocket on path with extra headers.
func rtDialRaw(t testing.TB, env *testkit.Env, path string, header http.Header) *rtSocket {
	t.Helper()
	return rtWrap(t, rtConnect(t, env, path, header))
}

// rtWrap starts reading an open socket's frames.
func rtWrap(t testing.TB, conn *websocket.Conn) *rtSocket {
	conn.SetReadLimit(1 << 20)
	s := &rtSocket{t: t, conn: conn, frames: make(chan rtFrame, 100000), closed: make(chan struct{})}
	go s.read()
	return s
}

// rtConnect dials a WebSocket on path with extra headers, closed when the
// test ends; nothing reads it.
func rtConnect(t testing.TB, env *testkit.Env, path string, header http.Header) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	u := "ws://" + env.Node.Addr() + path
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = conn.CloseNow() })
	return conn
}

func (s *rtSocket) read() {
	defer close(s.closed)
	for {
		_, data, err := s.conn.Read(context.Background())
		if err != nil {
			s.mu.Lock()
			s.closeErr = err
			s.mu.Unlock()
			return
		}
		var f rtFrame
		if json.Unmarshal(data, &f) == nil {
			s.frames <- f
		}
	}
}

// send writes a frame; data is encoded as an object, as pusher-js does.
func (s *rtSocket) send(event, channel string, data any) {
	s.t.Helper()
	raw, err := json.Marshal(map[string]any{"event": event, "channel": channel, "data": data})
	if err != nil {
		s.t.Fatal(err)
	}
	s.sendRaw(raw)
}

func (s *rtSocket) sendRaw(raw []byte) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	if err := s.conn.Write(ctx, websocket.MessageText, raw); err != nil {
		s.t.Fatalf("write: %v", err)
	}
}

// next waits for a frame with the event name (on any channel), skipping
// others.
func (s *rtSocket) next(event string) rtFrame {
	s.t.Helper()
	return s.nextWhere(event, func(rtFrame) bool { return true })
}

// nextWhere waits for a frame with the event name (any when "") that ok
// accepts.
func (s *rtSocket) nextWhere(event string, ok func(rtFrame) bool) rtFrame {
	s.t.Helper()
	deadline := time.NewTimer(rtWait)
	defer deadline.Stop()
	for {
		select {
		case f := <-s.frames:
			if (event == "" || f.Event == event) && ok(f) {
				return f
			}
		case <-s.closed:
			select {
			case f := <-s.frames:
				if (event == "" || f.Event == event) && ok(f) {
					return f
				}
				continue
			default:
			}
			s.t.Fatalf("socket closed (%v) while waiting for %s", s.err(), event)
		case <-deadline.C:
			s.t.Fatalf("timed out waiting for %s", event)
		}
	}
}

// noneBeforePong asserts that no frame with the event arrives before the
// answer to a ping sent now: the server sends frames in order, so anything
// published before the ping would come first.
func (s *rtSocket) noneBeforePong(event string) {
	s.t.Helper()
	s.send("pusher:ping", "", map[string]any{})
	deadline := time.NewTimer(rtWait)
	defer deadline.Stop()
	for {
		select {
		case f := <-s.frames:
			if f.Event == event {
				s.t.Fatalf("unexpected %s on %q: %s", event, f.Channel, f.Data)
			}
			if f.Event == "pusher:pong" {
				return
			}
		case <-deadline.C:
			s.t.Fatal("timed out waiting for pong")
		}
	}
}

func (s *rtSocket) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeErr
}

// waitClosed waits until the server closes the socket and returns the close
// status.
func (s *rtSocket) waitClosed() websocket.StatusCode {
	s.t.Helper()
	select {
	case <-s.closed:
		return websocket.CloseStatus(s.err())
	case <-time.After(rtWait):
		s.t.Fatal("timed out waiting for the server to close the socket")
		return 0
	}
}

// refused checks that the server told the socket pusher:error with code
// and then closed it with the same code; what names the socket in failures.
func (s *rtSocket) refused(what string, code int) {
	s.t.Helper()
	var perr struct {
		Code int `json:"code"`
	}
	s.next("pusher:error").decode(s.t, &perr)
	if perr.Code != code {
		s.t.Fatalf("%s: pusher:error %d, want %d", what, perr.Code, code)
	}
	if got := s.waitClosed(); got != websocket.StatusCode(code) {
		s.t.Fatalf("%s closed with %d, want %d", what, got, code)
	}
}

// rtAuth asks /broadcasting/auth for a subscription signature and returns
// the status and the answer.
func rtAuth(t testing.TB, env *testkit.Env, tok, socketID, channel string) (int, map[string]string) {
	t.Helper()
	form := url.Values{"socket_id": {socketID}, "channel_name": {channel}}
	req, err := http.NewRequest("POST", env.URL()+"/broadcasting/auth", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := env.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]string{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// subscribe authorises the channel as tok's user and waits for
// subscription_succeeded; it returns that frame.
func (s *rtSocket) subscribe(env *testkit.Env, tok, channel string) rtFrame {
	s.t.Helper()
	status, auth := rtAuth(s.t, env, tok, s.socketID, channel)
	if status != http.StatusOK {
		s.t.Fatalf("auth %s: status %d", channel, status)
	}
	s.send("pusher:subscribe", "", map[string]string{"channel": channel, "auth": auth["auth"], "channel_data": auth["channel_data"]})
	f := s.nextWhere("", func(f rtFrame) bool {
		return f.Channel == channel && (f.Event == "pusher_internal:subscription_succeeded" || f.Event == "pusher:subscription_error")
	})
	if f.Event != "pusher_internal:subscription_succeeded" {
		s.t.Fatalf("subscribe %s: %s %s", channel, f.Event, f.Data)
	}
	return f
}

// rtSign signs a subscription as a host application holding the secret would.
func rtSign(socketID, channel, channelData string) string {
	mac := hmac.New(sha256.New, []byte(rtSecret))
	mac.Write([]byte(socketID + ":" + channel))
	if channelData != "" {
		mac.Write([]byte(":" + channelData))
	}
	return rtKey + ":" + hex.EncodeToString(mac.Sum(nil))
}

// rtConv creates a group conversation of tok's user with others.
func rtConv(t testing.TB, env *testkit.Env, tok string, others ...string) string {
	t.Helper()
	var d engine.ConversationDetail
	env.MustDo(http.StatusCreated, "POST", "/api/conversations", tok,
		map[string]any{"participant_ids": others, "title": "room"}, &d)
	return d.ID
}

// rtSend sends a message and returns it.
func rtSend(t testing.TB, env *testkit.Env, tok, conv, body string) engine.Message {
	t.Helper()
	var m engine.Message
	env.MustDo(http.StatusCreated, "POST", "/api/messages/"+conv, tok,
		map[string]string{"body": body, "client_temp_id": "t-" + body}, &m)
	return m
}
