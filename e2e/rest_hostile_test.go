package e2e_test

import (
	"net/http"
	"strings"
	"testing"

	"parley/internal/testkit"
)

// Every route that takes a JSON body refuses hostile bodies with the
// documented status and code, and appends nothing.
func TestEveryJSONRouteRefusesHostileBodies(t *testing.T) {
	env := testkit.Start(t)
	a := env.Token("a")
	conv := createConv(t, env, a, "group", "b", "c")
	m := sendMsg(t, env, a, conv, "hi", "t1")
	fill := strings.NewReplacer(":conversation_id", conv, ":id", conv, ":message_id", m.ID, ":user_id", "b", ":key", "k")
	bodies := []struct {
		name, body string
		status     int
		codes      []string
	}{
		{"not json", `{"x":`, 400, []string{"malformed_json"}},
		{"wrong type", `[1,"x"]`, 400, []string{"invalid_type", "malformed_json"}},
		{"invalid utf-8", "{\"body\":\"\xc3\x28\"}", 400, []string{"invalid_utf8"}},
		{"control characters", "{\"x\x01\":1}", 400, []string{"malformed_json", "unknown_field"}},
		{"huge", `{"body":"` + strings.Repeat("z", 70<<10) + `"}`, 413, []string{"request_too_large"}},
	}
	before := logLast(t, env)
	checked := 0
	for _, r := range env.Node.API().Routes() {
		if (r.Method != http.MethodPost && r.Method != http.MethodPatch) || !strings.HasPrefix(r.Path, "/api/") {
			continue
		}
		if r.Path == "/api/attachments" {
			continue // a file, not JSON: TestAttachmentsRefuseHostileUploads
		}
		path := fill.Replace(r.Path)
		for _, b := range bodies {
			resp := env.Do(r.Method, path, a, b.body)
			ok := resp.Status == b.status
			if ok {
				ok = false
				for _, c := range b.codes {
					ok = ok || resp.ErrorCode() == c
				}
			}
			if !ok {
				t.Errorf("%s %s with %s: %d %q, want %d %v", r.Method, r.Path, b.name, resp.Status, resp.ErrorCode(), b.status, b.codes)
			}
		}
		checked++
	}
	if checked < 8 {
		t.Fatalf("only %d JSON routes checked", checked)
	}
	if after := logLast(t, env); after != before {
		t.Fatalf("hostile bodies appended events: the log went from %d to %d", before, after)
	}
}
