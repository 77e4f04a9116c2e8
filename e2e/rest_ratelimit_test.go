package e2e_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"parley/internal/node"
	"parley/internal/testkit"
)

// Sends are limited per user: past the burst a user gets 429 with
// Retry-After, and nothing is appended; other users are not affected.
func TestSendRateLimitPerUser(t *testing.T) {
	env := testkit.Start(t, func(c *node.Config) { c.SendRate, c.SendBurst = 0.5, 3 })
	a, b := env.Token("a"), env.Token("b")
	conv := createConv(t, env, a, "", "b")
	for i := range 3 {
		sendMsg(t, env, a, conv, "ok", temp(i))
	}
	before := logLast(t, env)
	r := env.Do("POST", "/api/messages/"+conv, a, map[string]string{"body": "too many", "client_temp_id": "x"})
	if r.Status != http.StatusTooManyRequests || r.ErrorCode() != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth send: %d %q Retry-After=%q", r.Status, r.ErrorCode(), r.Header.Get("Retry-After"))
	}
	if after := logLast(t, env); after != before {
		t.Fatalf("a refused send appended an event: the log went from %d to %d", before, after)
	}
	sendMsg(t, env, b, conv, "b is not limited by a", "b1")
}

// rateLimited checks a 429 answer: Retry-After 1 and the JSON error shape
// {"error":{"code":"rate_limited","message":...}}, nothing else.
func rateLimited(t *testing.T, what string, r *testkit.Response) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "1" ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%s: %d, Retry-After %q, Content-Type %q, want 429 JSON with Retry-After 1: %s",
			what, r.Status, r.Header.Get("Retry-After"), r.Header.Get("Content-Type"), r.Body)
	}
	var body map[string]map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil || len(body) != 1 || len(body["error"]) != 2 {
		t.Fatalf("%s: body %s, want {\"error\":{\"code\":...,\"message\":...}} (%v)", what, r.Body, err)
	}
	if code, _ := body["error"]["code"].(string); code != "rate_limited" {
		t.Fatalf("%s: code %v, want rate_limited", what, body["error"]["code"])
	}
	if msg, _ := body["error"]["message"].(string); msg == "" {
		t.Fatalf("%s: no message: %s", what, r.Body)
	}
}

// untilLimited repeats do until it answers 429, after the burst answered
// want each: the limiter's bucket starts full, refills at a few tokens a
// second, and the requests come far faster, so a few more than the burst
// reach the limit.
func untilLimited(t *testing.T, what string, burst, want int, do func() *testkit.Response) *testkit.Response {
	t.Helper()
	for i := range burst {
		if r := do(); r.Status != want {
			t.Fatalf("%s %d of the burst of %d: %d %s, want %d", what, i+1, burst, r.Status, r.Body, want)
		}
	}
	for range 20 {
		if r := do(); r.Status != want {
			return r
		}
	}
	t.Fatalf("%s: 20 requests past the burst of %d were all allowed", what, burst)
	return nil
}

// The REST typing limiter: 3 at once per user and conversation, then 429
// in the JSON error shape; the same user in another conversation, and
// another user in the same one, are not limited.
func TestTypingRateLimit(t *testing.T) {
	env := rtStart(t)
	a, b := env.Token("a"), env.Token("b")
	conv := createConv(t, env, a, "", "b")
	other := createConv(t, env, a, "", "c")
	typing := func(tok, conv string) func() *testkit.Response {
		return func() *testkit.Response {
			return env.Do("POST", "/api/messages/"+conv+"/typing", tok, map[string]bool{"typing": true})
		}
	}
	rateLimited(t, "typing past the burst", untilLimited(t, "typing", 3, http.StatusAccepted, typing(a, conv)))
	if r := typing(a, other)(); r.Status != http.StatusAccepted {
		t.Fatalf("typing in another conversation: %d %s", r.Status, r.Body)
	}
	if r := typing(b, conv)(); r.Status != http.StatusAccepted {
		t.Fatalf("another user typing: %d %s", r.Status, r.Body)
	}
}

// The REST heartbeat limiter: 5 at once per user, then 429 in the JSON
// error shape; another user is not limited.
func TestHeartbeatRateLimit(t *testing.T) {
	env := rtStart(t)
	a, b := env.Token("a"), env.Token("b")
	heartbeat := func(tok string) func() *testkit.Response {
		return func() *testkit.Response {
			return env.Do("POST", "/api/messages/presence/heartbeat", tok, map[string]string{})
		}
	}
	rateLimited(t, "heartbeat past the burst", untilLimited(t, "heartbeat", 5, http.StatusOK, heartbeat(a)))
	if r := heartbeat(b)(); r.Status != http.StatusOK {
		t.Fatalf("another user's heartbeat: %d %s", r.Status, r.Body)
	}
}
