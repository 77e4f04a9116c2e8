package e2e_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"parley/internal/node"
	"parley/internal/pusher"
	"parley/internal/testkit"
)

// pusherApp is an app as the HTTP API tests sign for it.
type pusherApp struct{ id, key, secret string }

var rtApp = pusherApp{rtAppID, rtKey, rtSecret}

// pusherReq is one signed request; mutate may change the query after the
// body_md5 is set and before signing, tamper after signing.
type pusherReq struct {
	method, path string
	query        url.Values
	body         []byte
	at           time.Time
	mutate       func(q url.Values)
	tamper       func(q url.Values, body []byte) []byte
	signWith     string
}

// pusherDo signs and sends a Pusher HTTP API request as the Pusher SDKs do.
func pusherDo(t testing.TB, env *testkit.Env, app pusherApp, r pusherReq) *testkit.Response {
	t.Helper()
	q := url.Values{}
	for k, v := range r.query {
		q[k] = v
	}
	at := r.at
	if at.IsZero() {
		at = time.Now()
	}
	q.Set("auth_key", app.key)
	q.Set("auth_timestamp", strconv.FormatInt(at.Unix(), 10))
	q.Set("auth_version", "1.0")
	if len(r.body) > 0 {
		sum := md5.Sum(r.body)
		q.Set("body_md5", hex.EncodeToString(sum[:]))
	}
	if r.mutate != nil {
		r.mutate(q)
	}
	secret := app.secret
	if r.signWith != "" {
		secret = r.signWith
	}
	// Signed independently of api.SignPusherRequest, as the SDKs do.
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+q.Get(k))
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(r.method + "\n" + r.path + "\n" + strings.Join(parts, "&")))
	q.Set("auth_signature", hex.EncodeToString(mac.Sum(nil)))
	body := r.body
	if r.tamper != nil {
		body = r.tamper(q, body)
	}
	req, err := http.NewRequest(r.method, env.URL()+r.path+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := env.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return &testkit.Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// pusherTrigger posts an event and returns the answer.
func pusherTrigger(t testing.TB, env *testkit.Env, app pusherApp, ev map[string]any) *testkit.Response {
	t.Helper()
	body, _ := json.Marshal(ev)
	return pusherDo(t, env, app, pusherReq{method: "POST", path: "/apps/" + app.id + "/events", body: body})
}

// The signature check: the SDKs' signing is accepted; a wrong secret, a
// timestamp more than 600 s off either way, a body that does not match its
// body_md5, a query changed after signing, a wrong key or version are 401
// with their codes.
func TestPusherSignature(t *testing.T) {
	env := rtStart(t, func(c *node.Config) { c.AppID = rtAppID })
	good, _ := json.Marshal(map[string]any{"name": "e", "data": "{}", "channel": "news"})
	for _, c := range []struct {
		name string
		req  pusherReq
		want int
		code string
	}{
		{"good", pusherReq{}, 200, ""},
		{"good GET", pusherReq{method: "GET", path: "/apps/" + rtAppID + "/channels", body: []byte{}}, 200, ""},
		{"wrong secret", pusherReq{signWith: "other-secret"}, 401, "invalid_signature"},
		{"stale", pusherReq{at: time.Now().Add(-601 * time.Second)}, 401, "timestamp_expired"},
		{"future", pusherReq{at: time.Now().Add(601 * time.Second)}, 401, "timestamp_expired"},
		{"just in time", pusherReq{at: time.Now().Add(-590 * time.Second)}, 200, ""},
		{"body changed after signing", pusherReq{tamper: func(_ url.Values, b []byte) []byte {
			return bytes.Replace(b, []byte(`"news"`), []byte(`"nope"`), 1)
		}}, 401, "body_md5_mismatch"},
		{"body_md5 of another body", pusherReq{mutate: func(q url.Values) { q.Set("body_md5", hex.EncodeToString(md5.New().Sum(nil))) }}, 401, "body_md5_mismatch"},
		{"query changed after signing", pusherReq{tamper: func(q url.Values, b []byte) []byte {
			q.Set("auth_timestamp", strconv.FormatInt(time.Now().Unix()-1, 10))
			return b
		}}, 401, "invalid_signature"},
		{"wrong key", pusherReq{mutate: func(q url.Values) { q.Set("auth_key", "someoneelse") }}, 401, "invalid_auth_key"},
		{"no version", pusherReq{mutate: func(q url.Values) { q.Del("auth_version") }}, 401, "invalid_auth_version"},
		// "a,b" signed once must not also stand for a=... twice: the
		// string to sign would be the same, the meaning not.
		{"parameter split after signing", pusherReq{method: "GET", path: "/apps/" + rtAppID + "/channels",
			query: url.Values{"filter_by_prefix": {"presence-,news"}}, tamper: func(q url.Values, b []byte) []byte {
				q["filter_by_prefix"] = []string{"presence-", "news"}
				return b
			}}, 401, "duplicate_parameter"},
		{"auth_key twice", pusherReq{tamper: func(q url.Values, b []byte) []byte {
			q.Add("auth_key", "someoneelse")
			return b
		}}, 401, "duplicate_parameter"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.req
			if r.method == "" {
				r.method, r.path, r.body = "POST", "/apps/"+rtAppID+"/events", good
			}
			got := pusherDo(t, env, rtApp, r)
			if got.Status != c.want || got.ErrorCode() != c.code {
				t.Fatalf("status %d code %q, want %d %q: %s", got.Status, got.ErrorCode(), c.want, c.code, got.Body)
			}
		})
	}
	if pusher.PusherStringToSign("GET", "/apps/1/channels", url.Values{"b": {"2"}, "a": {"1"}, "auth_signature": {"x"}}) != "GET\n/apps/1/channels\na=1&b=2" {
		t.Error("string to sign is not method, path and the sorted query without auth_signature")
	}
}

// Sizes and counts are bounded, with stable codes: 101 channels, data over
// the limit (10 KB by default, --app-max-data), batches over 10 events,
// reserved and missing names, invalid channels and socket ids.
func TestPusherLimits(t *testing.T) {
	env := rtStart(t, func(c *node.Config) { c.AppID = rtAppID })
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("c%d", i)
	}
	ok := func(over map[string]any) map[string]any {
		ev := map[string]any{"name": "e", "data": "{}", "channel": "news"}
		for k, v := range over {
			ev[k] = v
		}
		return ev
	}
	for _, c := range []struct {
		name string
		ev   map[string]any
		want int
		code string
	}{
		{"100 channels", ok(map[string]any{"channels": many[:100], "channel": nil}), 200, ""},
		{"101 channels", ok(map[string]any{"channels": many, "channel": nil}), 400, "too_many_channels"},
		{"10 KB of data", ok(map[string]any{"data": strings.Repeat("x", 10240)}), 200, ""},
		{"10 KB + 1", ok(map[string]any{"data": strings.Repeat("x", 10241)}), 413, "data_too_large"},
		{"no name", ok(map[string]any{"name": ""}), 400, "name_required"},
		{"reserved name", ok(map[string]any{"name": "pusher:subscribe"}), 400, "name_required"},
		{"no data", ok(map[string]any{"data": nil}), 400, "data_required"},
		{"no channel", ok(map[string]any{"channel": nil}), 400, "channels_required"},
		{"invalid channel", ok(map[string]any{"channel": "a b"}), 400, "invalid_channel"},
		{"invalid socket_id", ok(map[string]any{"socket_id": "x"}), 400, "invalid_socket_id"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := pusherTrigger(t, env, rtApp, c.ev)
			if got.Status != c.want || got.ErrorCode() != c.code {
				t.Fatalf("status %d code %q, want %d %q: %s", got.Status, got.ErrorCode(), c.want, c.code, got.Body)
			}
		})
	}
	batch := func(n int) []byte {
		items := make([]map[string]any, n)
		for i := range items {
			items[i] = map[string]any{"name": "e", "data": "{}", "channel": "news"}
		}
		b, _ := json.Marshal(map[string]any{"batch": items})
		return b
	}
	if r := pusherDo(t, env, rtApp, pusherReq{method: "POST", path: "/apps/" + rtAppID + "/batch_events", body: batch(10)}); r.Status != 200 || string(r.Body) != `{"batch":{}}`+"\n" {
		t.Errorf("batch of 10: %d %s", r.Status, r.Body)
	}
	if r := pusherDo(t, env, rtApp, pusherReq{method: "POST", path: "/apps/" + rtAppID + "/batch_events", body: batch(11)}); r.Status != 400 || r.ErrorCode() != "batch_too_large" {
		t.Errorf("batch of 11: %d %s", r.Status, r.Body)
	}
	if r := pusherDo(t, env, rtApp, pusherReq{method: "GET", path: "/apps/" + rtAppID + "/channels/news/users"}); r.Status != 400 || r.ErrorCode() != "not_presence_channel" {
		t.Errorf("users of a public channel: %d %s", r.Status, r.Body)
	}

	small := rtStart(t, func(c *node.Config) { c.AppID = rtAppID; c.AppMaxData = 100 })
	if r := pusherTrigger(t, small, rtApp, ok(map[string]any{"data": strings.Repeat("x", 101)})); r.Status != 413 || r.ErrorCode() != "data_too_large" {
		t.Errorf("--app-max-data 100, 101 bytes: %d %s", r.Status, r.Body)
	}
}

// Two apps on one node: the same channel name on each never mixes, a
// request signed with the other app's secret is refused, and each app's
// channel list and connection count are its own.
func TestPusherAppsIsolation(t *testing.T) {
	appB := pusherApp{"other", "otherkey", "othersecret"}
	file := filepath.Join(t.TempDir(), "apps.json")
	raw, _ := json.Marshal(map[string]any{"apps": []map[string]any{
		{"id": rtAppID, "key": rtKey, "secret": rtSecret, "messaging": true},
		{"id": appB.id, "key": appB.key, "secret": appB.secret},
	}})
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	env := rtStart(t, func(c *node.Config) { c.AppKey, c.AppSecret, c.AppsFile = "", "", file })
	sa := rtDial(t, env)
	sb := rtDialApp(t, env, appB.key)
	for _, s := range []*rtSocket{sa, sb} {
		s.send("pusher:subscribe", "", map[string]string{"channel": "news"})
		s.nextWhere("pusher_internal:subscription_succeeded", func(f rtFrame) bool { return f.Channel == "news" })
	}
	// Presence on the same name in both apps: separate member lists.
	for i, s := range []*rtSocket{sa, sb} {
		app := []pusherApp{rtApp, appB}[i]
		cd := fmt.Sprintf(`{"user_id":%d}`, i+1)
		mac := hmac.New(sha256.New, []byte(app.secret))
		mac.Write([]byte(s.socketID + ":presence-room:" + cd))
		s.send("pusher:subscribe", "", map[string]string{"channel": "presence-room", "auth": app.key + ":" + hex.EncodeToString(mac.Sum(nil)), "channel_data": cd})
		f := s.nextWhere("pusher_internal:subscription_succeeded", func(f rtFrame) bool { return f.Channel == "presence-room" })
		var p struct {
			Presence struct {
				IDs []string `json:"ids"`
			} `json:"presence"`
		}
		f.decode(t, &p)
		if len(p.Presence.IDs) != 1 || p.Presence.IDs[0] != strconv.Itoa(i+1) {
			t.Fatalf("app %s presence-room members %v, want only %d", app.id, p.Presence.IDs, i+1)
		}
	}
	if r := pusherTrigger(t, env, appB, map[string]any{"name": "only-b", "data": "{}", "channel": "news"}); r.Status != 200 {
		t.Fatalf("trigger on app B: %d %s", r.Status, r.Body)
	}
	if r := pusherTrigger(t, env, rtApp, map[string]any{"name": "only-a", "data": "{}", "channel": "news"}); r.Status != 200 {
		t.Fatalf("trigger on app A: %d %s", r.Status, r.Body)
	}
	sb.next("only-b")
	sa.next("only-a")
	sa.noneBeforePong("only-b")
	sb.noneBeforePong("only-a")
	cross := pusherApp{appB.id, appB.key, rtSecret}
	if r := pusherTrigger(t, env, cross, map[string]any{"name": "x", "data": "{}", "channel": "news"}); r.Status != 401 {
		t.Errorf("app B's request signed with app A's secret: %d %s", r.Status, r.Body)
	}
	testkit.WaitFor(t, rtWait, "each app counts its own connection", func() bool {
		var a, b struct{ Connections int }
		_ = json.Unmarshal(pusherDo(t, env, rtApp, pusherReq{method: "GET", path: "/apps/" + rtAppID + "/connections"}).Body, &a)
		_ = json.Unmarshal(pusherDo(t, env, appB, pusherReq{method: "GET", path: "/apps/other/connections"}).Body, &b)
		return a.Connections == 1 && b.Connections == 1
	})
	sb.send("pusher:subscribe", "", map[string]string{"channel": "b-only"})
	sb.nextWhere("pusher_internal:subscription_succeeded", func(f rtFrame) bool { return f.Channel == "b-only" })
	testkit.WaitFor(t, rtWait, "app B lists b-only, app A does not", func() bool {
		var a, b struct{ Channels map[string]any }
		_ = json.Unmarshal(pusherDo(t, env, rtApp, pusherReq{method: "GET", path: "/apps/" + rtAppID + "/channels"}).Body, &a)
		_ = json.Unmarshal(pusherDo(t, env, appB, pusherReq{method: "GET", path: "/apps/other/channels"}).Body, &b)
		return len(a.Channels) == 2 && a.Channels["b-only"] == nil && len(b.Channels) == 3 && b.Channels["b-only"] != nil
	})
}

// rtDialApp connects to an app's key and waits for connection_established.
func rtDialApp(t testing.TB, env *testkit.Env, key string) *rtSocket {
	t.Helper()
	s := rtDialRaw(t, env, "/app/"+key+"?protocol=7", nil)
	var est struct {
		SocketID string `json:"socket_id"`
	}
	s.next("pusher:connection_established").decode(t, &est)
	s.socketID = est.SocketID
	return s
}
