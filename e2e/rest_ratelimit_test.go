package e2e_test

import (
	"net/http"
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
	before := env.Node.DB().Applied()
	r := env.Do("POST", "/api/messages/"+conv, a, map[string]string{"body": "too many", "client_temp_id": "x"})
	if r.Status != http.StatusTooManyRequests || r.ErrorCode() != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth send: %d %q Retry-After=%q", r.Status, r.ErrorCode(), r.Header.Get("Retry-After"))
	}
	if env.Node.DB().Applied() != before {
		t.Fatal("a refused send appended an event")
	}
	sendMsg(t, env, b, conv, "b is not limited by a", "b1")
}
