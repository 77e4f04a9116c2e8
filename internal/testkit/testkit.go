// Package testkit starts real Parley nodes for integration tests: an embedded
// nats-server and a SQLite file in a temp dir, HTTP on a loopback port.
package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"parley/api"
	"parley/internal/node"
)

// Secret is the JWT secret test nodes use.
const Secret = "testkit-secret"

// Env is one running node and a client for it.
type Env struct {
	TB     testing.TB
	Node   *node.Node
	Config node.Config
	Client *http.Client
}

// Start runs a node on a fresh data dir; opts adjust its config. The node is
// closed when the test ends.
func Start(tb testing.TB, opts ...func(*node.Config)) *Env {
	tb.Helper()
	cfg := node.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = tb.TempDir()
	cfg.JWTSecret = Secret
	cfg.LogLevel = "warn"
	cfg.SendRate = 0 // tests that measure the limit turn it on
	for _, o := range opts {
		o(&cfg)
	}
	e := &Env{TB: tb, Config: cfg, Client: &http.Client{Timeout: 30 * time.Second}}
	e.start()
	tb.Cleanup(func() { e.Stop() })
	return e
}

func (e *Env) start() {
	e.TB.Helper()
	n := &node.Node{Config: e.Config, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if testing.Verbose() {
		n.Logger = slog.Default()
	}
	if err := n.Run(context.Background()); err != nil {
		e.TB.Fatalf("start node: %v", err)
	}
	e.Node = n
	e.Config.Addr = n.Addr() // a restart keeps the port
}

// Stop closes the node; Stop on a stopped node does nothing.
func (e *Env) Stop() {
	if e.Node != nil {
		if err := e.Node.Close(); err != nil {
			e.TB.Errorf("close node: %v", err)
		}
		e.Node = nil
	}
}

// Restart stops the node and starts it again on the same data dir and port.
func (e *Env) Restart() {
	e.TB.Helper()
	e.Stop()
	e.start()
}

// URL is the node's base URL.
func (e *Env) URL() string { return e.Node.URL() }

// Token mints a valid user token.
func (e *Env) Token(user string) string {
	e.TB.Helper()
	tok, err := api.MintToken([]byte(Secret), user, user, false, time.Hour)
	if err != nil {
		e.TB.Fatal(err)
	}
	return tok
}

// Response is a finished HTTP exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode parses the body as JSON into v.
func (r *Response) Decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.Body, err)
	}
}

// ErrorCode is the code of a JSON error answer, or "".
func (r *Response) ErrorCode() string {
	var b api.ErrorBody
	_ = json.Unmarshal(r.Body, &b)
	return b.Error.Code
}

// Do sends a request as the token's user (no Authorization when token is
// ""). body may be nil, a []byte or string sent as is, or a value sent as JSON.
func (e *Env) Do(method, path, token string, body any) *Response {
	e.TB.Helper()
	r, err := e.Try(method, path, token, body)
	if err != nil {
		e.TB.Fatal(err)
	}
	return r
}

// Try is Do returning its error instead of failing the test, for requests
// made off the test's goroutine (where Fatal would end only that goroutine).
func (e *Env) Try(method, path, token string, body any) (*Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.URL()+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}, nil
}

// MustDo is Do that fails the test unless the status is want, and decodes
// the answer into out when out is not nil.
func (e *Env) MustDo(want int, method, path, token string, body, out any) *Response {
	e.TB.Helper()
	r := e.Do(method, path, token, body)
	if r.Status != want {
		e.TB.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if out != nil {
		r.Decode(e.TB, out)
	}
	return r
}

// WaitFor polls cond until it holds or the timeout passes.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
