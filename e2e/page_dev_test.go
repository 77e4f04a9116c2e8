package e2e_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"parley/api/webui"
	"parley/internal/node"
	"parley/internal/testkit"
)

// Without --dev there is no dev sign-in: POST /dev/token is an unknown route.
func TestDevTokenOffByDefault(t *testing.T) {
	env := testkit.Start(t)
	r := env.Do("POST", "/dev/token", "", map[string]string{"user": "alice"})
	if r.Status != http.StatusNotFound || r.ErrorCode() != "route_not_found" {
		t.Fatalf("POST /dev/token without --dev: %d %s, want 404 route_not_found", r.Status, r.Body)
	}
}

// With --dev, POST /dev/token mints a working token for any valid user id
// and refuses bad input with the usual error shapes.
func TestDevTokenMintsUserTokens(t *testing.T) {
	env := testkit.Start(t, func(c *node.Config) { c.Dev = true })
	var tok struct {
		Token     string `json:"token"`
		UserID    string `json:"user_id"`
		Name      string `json:"name"`
		ExpiresAt string `json:"expires_at"`
	}
	env.MustDo(http.StatusOK, "POST", "/dev/token", "", map[string]string{"user": "ada", "name": "Ada Lovelace"}, &tok)
	if tok.UserID != "ada" || tok.Name != "Ada Lovelace" || tok.Token == "" || tok.ExpiresAt == "" {
		t.Fatalf("dev token answer %+v", tok)
	}
	var conv struct {
		ID string `json:"id"`
	}
	env.MustDo(http.StatusCreated, "POST", "/api/conversations", tok.Token, map[string]any{"participant_ids": []string{"bob"}}, &conv)
	var detail struct {
		CreatedBy string `json:"created_by"`
	}
	env.MustDo(http.StatusOK, "GET", "/api/conversations/"+conv.ID, tok.Token, nil, &detail)
	if detail.CreatedBy != "ada" {
		t.Errorf("conversation created by %q with ada's dev token", detail.CreatedBy)
	}
	var noName struct {
		Name string `json:"name"`
	}
	env.MustDo(http.StatusOK, "POST", "/dev/token", "", map[string]string{"user": "bob"}, &noName)
	if noName.Name != "bob" {
		t.Errorf("name defaults to %q, want the user id", noName.Name)
	}
	for _, c := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"no user", map[string]string{}, 422, "invalid_user_id"},
		{"space in user", map[string]string{"user": "a b"}, 422, "invalid_user_id"},
		{"long name", map[string]string{"user": "a", "name": strings.Repeat("n", 65)}, 422, "invalid_name"},
		{"unknown field", map[string]string{"user": "a", "ops": "true"}, 400, "unknown_field"},
		{"not json", "{", 400, "malformed_json"},
	} {
		if r := env.Do("POST", "/dev/token", "", c.body); r.Status != c.status || r.ErrorCode() != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.Status, r.Body, c.status, c.code)
		}
	}
}

// The node serves the embedded page at / and its assets under /assets/,
// with a CSP, an ETag (304 on revalidation) and HEAD; everything else
// still reaches the API.
func TestWebUIServedByNode(t *testing.T) {
	env := testkit.Start(t)
	get := func(method, path string, header map[string]string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, env.URL()+path, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := env.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	index, _ := webui.Files().Open("index.html")
	want, _ := io.ReadAll(index)
	resp, body := get("GET", "/", nil)
	if resp.StatusCode != 200 || body != string(want) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q", csp)
	}
	if r, b := get("GET", "/", map[string]string{"If-None-Match": resp.Header.Get("ETag")}); r.StatusCode != http.StatusNotModified || b != "" {
		t.Errorf("revalidation: %d with %d bytes, want 304", r.StatusCode, len(b))
	}
	if r, b := get("HEAD", "/", nil); r.StatusCode != 200 || b != "" || r.ContentLength != int64(len(want)) {
		t.Errorf("HEAD /: %d, %d bytes", r.StatusCode, len(b))
	}
	for _, a := range []struct{ path, typ, has string }{
		{"/assets/app.js", "text/javascript", "pusher"},
		{"/assets/app.css", "text/css", ".msg"},
	} {
		r, b := get("GET", a.path, nil)
		if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), a.typ) || !strings.Contains(b, a.has) {
			t.Errorf("GET %s: %d %s, %d bytes", a.path, r.StatusCode, r.Header.Get("Content-Type"), len(b))
		}
	}
	if r := env.Do("GET", "/assets/nothing.js", "", nil); r.Status != 404 || r.ErrorCode() != "route_not_found" {
		t.Errorf("unknown asset: %d %s", r.Status, r.Body)
	}
	if r := env.Do("GET", "/index.html", "", nil); r.Status != 404 {
		t.Errorf("GET /index.html: %d, want 404 (the page is at /)", r.Status)
	}
	if r := env.Do("GET", "/api/config", "", nil); r.Status != 200 || !strings.Contains(string(r.Body), `"realtime":true`) {
		t.Errorf("the API behind the page: GET /api/config %d %s", r.Status, r.Body)
	}
}
