package e2e_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"parley/api"
	"parley/engine"
	"parley/internal/testkit"
)

// conversationRoutes are the requests a participant may make on one
// conversation, with a body that is valid for a participant. {c} is the
// conversation, {m} a message in it, {u} a participant, {e} a reaction the
// participant put on it, {a} an attachment the message carries.
var conversationRoutes = []struct {
	method, path string
	body         any
}{
	{"GET", "/api/conversations/{c}", nil},
	{"POST", "/api/conversations/{c}/participants", map[string]any{"user_ids": []string{"zed"}}},
	{"DELETE", "/api/conversations/{c}/participants/{u}", nil},
	{"PATCH", "/api/conversations/{c}/settings", map[string]any{"muted": true}},
	{"GET", "/api/messages/{c}", nil},
	{"POST", "/api/messages/{c}", map[string]string{"body": "hi", "client_temp_id": "x"}},
	{"GET", "/api/messages/{c}/delta", nil},
	{"POST", "/api/messages/{c}/read", map[string]string{"message_id": "{m}"}},
	{"PATCH", "/api/messages/{c}/{m}", map[string]string{"body": "changed"}},
	{"DELETE", "/api/messages/{c}/{m}", nil},
	{"GET", "/api/messages/{c}/{m}/reads", nil},
	{"GET", "/api/messages/{c}/{m}/replies", nil},
	{"PUT", "/api/messages/{c}/{m}/reactions/{e}", nil},
	{"DELETE", "/api/messages/{c}/{m}/reactions/{e}", nil},
	{"POST", "/api/messages/{c}/typing", map[string]any{"typing": true}},
	{"GET", "/api/attachments/{a}", nil},
}

// Every conversation route answers a non-participant 404 without data, and
// changes nothing.
func TestNonParticipantGets404Everywhere(t *testing.T) {
	env := testkit.Start(t)
	owner, outsider := env.Token("owner"), env.Token("outsider")
	conv := createConv(t, env, owner, "private", "member")
	att := uploadFile(t, env, owner, "secret.png", "image/png", pngBytes(100), http.StatusCreated)
	var m engine.Message
	env.MustDo(http.StatusCreated, "POST", "/api/messages/"+conv, owner,
		map[string]any{"body": "secret", "client_temp_id": "t", "attachments": []string{att.ID}}, &m)
	env.MustDo(http.StatusOK, "PUT", "/api/messages/"+conv+"/"+m.ID+"/reactions/%F0%9F%91%8D", owner, nil, nil)
	fill := strings.NewReplacer("{c}", conv, "{m}", m.ID, "{u}", "member", "{e}", "%F0%9F%91%8D", "{a}", att.ID)

	// Every registered route that names a conversation is in the table.
	listed := map[string]bool{}
	for _, r := range conversationRoutes {
		listed[r.method+" "+r.path] = true
	}
	for _, r := range env.Node.API().Routes() {
		if !strings.Contains(r.Path, ":conversation_id") && !strings.Contains(r.Path, ":id") {
			continue
		}
		id := "{c}"
		if strings.HasPrefix(r.Path, "/api/attachments/") {
			id = "{a}"
		}
		p := strings.NewReplacer(":conversation_id", "{c}", ":id", id, ":message_id", "{m}", ":user_id", "{u}", ":emoji", "{e}").Replace(r.Path)
		if !listed[r.Method+" "+p] {
			t.Errorf("route %s %s is not covered by this test", r.Method, r.Path)
		}
	}

	before := logLast(t, env)
	for _, r := range conversationRoutes {
		var body any
		if r.body != nil {
			switch b := r.body.(type) {
			case map[string]string:
				bb := map[string]string{}
				for k, v := range b {
					bb[k] = fill.Replace(v)
				}
				body = bb
			default:
				body = b
			}
		}
		resp := env.Do(r.method, fill.Replace(r.path), outsider, body)
		if resp.Status != http.StatusNotFound {
			t.Errorf("%s %s as a non-participant: status %d, want 404: %s", r.method, r.path, resp.Status, resp.Body)
		}
		if strings.Contains(string(resp.Body), "secret") || strings.Contains(string(resp.Body), "member") {
			t.Errorf("%s %s leaked data: %s", r.method, r.path, resp.Body)
		}
	}
	if after := logLast(t, env); after != before {
		t.Fatalf("requests by a non-participant appended events: the log went from %d to %d", before, after)
	}
	// The outsider's list does not show it either.
	var l struct {
		Conversations []any `json:"conversations"`
	}
	env.MustDo(http.StatusOK, "GET", "/api/conversations", outsider, nil, &l)
	if len(l.Conversations) != 0 {
		t.Fatalf("outsider lists %d conversations", len(l.Conversations))
	}
}

func TestTokensAreChecked(t *testing.T) {
	env := testkit.Start(t)
	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now()
	valid := jwt.MapClaims{"sub": "alice", "exp": now.Add(time.Hour).Unix()}
	expired, _ := api.MintToken([]byte(testkit.Secret), "alice", "", false, -time.Hour)
	cases := []struct {
		name, auth, code string
	}{
		{"missing", "", "missing_token"},
		{"not bearer", "Basic YWxpY2U6cHc=", "missing_token"},
		{"malformed", "Bearer not.a.jwt", "invalid_token"},
		{"garbage", "Bearer ~~~~", "invalid_token"},
		{"expired", "Bearer " + expired, "token_expired"},
		{"wrong secret", "Bearer " + sign(jwt.SigningMethodHS256, []byte("other"), valid), "invalid_token"},
		{"alg none", "Bearer " + sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid), "invalid_token"},
		{"HS512", "Bearer " + sign(jwt.SigningMethodHS512, []byte(testkit.Secret), valid), "invalid_token"},
		{"no exp", "Bearer " + sign(jwt.SigningMethodHS256, []byte(testkit.Secret), jwt.MapClaims{"sub": "alice"}), "invalid_token"},
		{"no sub", "Bearer " + sign(jwt.SigningMethodHS256, []byte(testkit.Secret), jwt.MapClaims{"exp": now.Add(time.Hour).Unix()}), "invalid_token"},
		{"bad sub", "Bearer " + sign(jwt.SigningMethodHS256, []byte(testkit.Secret), jwt.MapClaims{"sub": "a b", "exp": now.Add(time.Hour).Unix()}), "invalid_token"},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest("GET", env.URL()+"/api/conversations", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := env.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r := &testkit.Response{Status: resp.StatusCode}
		r.Body = readAll(t, resp)
		if r.Status != http.StatusUnauthorized || r.ErrorCode() != tc.code {
			t.Errorf("%s: status %d code %q, want 401 %q", tc.name, r.Status, r.ErrorCode(), tc.code)
		}
	}
	good := sign(jwt.SigningMethodHS256, []byte(testkit.Secret), valid)
	env.MustDo(http.StatusOK, "GET", "/api/conversations", good, nil, nil)
}
