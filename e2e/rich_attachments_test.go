package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/engine"
	"parley/internal/node"
	"parley/internal/testkit"
)

// pngBytes is a valid 1×1 PNG followed by padding to size bytes.
func pngBytes(size int) []byte {
	b := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" +
		"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")
	for len(b) < size {
		b = append(b, byte(len(b)))
	}
	return b
}

// rawRequest sends body with headers and returns the answer's status,
// headers and body.
func rawRequest(t *testing.T, env *testkit.Env, method, path, tok string, body []byte, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, env.URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := env.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// uploadFile uploads body and expects status.
func uploadFile(t *testing.T, env *testkit.Env, tok, name, contentType string, body []byte, status int) engine.AttachmentInfo {
	t.Helper()
	st, _, b := rawRequest(t, env, "POST", "/api/attachments?name="+name, tok, body, map[string]string{"Content-Type": contentType})
	if st != status {
		t.Fatalf("upload %s: %d %s, want %d", name, st, b, status)
	}
	var info engine.AttachmentInfo
	_ = json.Unmarshal(b, &info)
	return info
}

func errCode(b []byte) string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	return e.Error.Code
}

// An upload belongs to its uploader until one of their messages carries
// it; then the conversation's participants, and only they, fetch it, with
// ranges, an ETag and headers that keep a file from running as a page; a
// deleted message takes its attachments with it; orphans expire.
func TestAttachmentsBelongToTheirConversation(t *testing.T) {
	env := opsStart(t, func(c *node.Config) {
		c.MaxAttachmentBytes = 64 << 10
		c.AttachmentTTL = time.Hour
	})
	alice, bob, eve := env.Token("alice"), env.Token("bob"), env.Token("eve")
	conv := createConv(t, env, alice, "room", "bob")
	other := createConv(t, env, alice, "other", "eve")
	img := pngBytes(40000)

	info := uploadFile(t, env, alice, "../../etc/pic%0A.png", "image/png", img, http.StatusCreated)
	if info.Size != int64(len(img)) || info.ContentType != "image/png" || info.Name != "pic.png" || info.OwnerID != "alice" {
		t.Fatalf("upload answered %+v", info)
	}
	// Before a message carries it, only alice sees it.
	if st, _, b := rawRequest(t, env, "GET", "/api/attachments/"+info.ID, alice, nil, nil); st != http.StatusOK || !bytes.Equal(b, img) {
		t.Fatalf("alice's own upload: %d, %d bytes", st, len(b))
	}
	if st, _, b := rawRequest(t, env, "GET", "/api/attachments/"+info.ID, bob, nil, nil); st != http.StatusNotFound || errCode(b) != "attachment_not_found" {
		t.Fatalf("bob before the message: %d %s", st, b)
	}
	// Bob cannot attach alice's upload.
	if r := env.Do("POST", "/api/messages/"+conv, bob, map[string]any{"body": "mine", "client_temp_id": "b1", "attachments": []string{info.ID}}); r.Status != http.StatusUnprocessableEntity || r.ErrorCode() != "invalid_attachment" {
		t.Fatalf("bob attaching alice's upload: %d %s", r.Status, r.Body)
	}
	var m engine.Message
	env.MustDo(http.StatusCreated, "POST", "/api/messages/"+conv, alice, map[string]any{"body": "a picture", "client_temp_id": "a1", "attachments": []string{info.ID}}, &m)
	want := engine.Attachment{ID: info.ID, Name: "pic.png", ContentType: "image/png", Size: int64(len(img))}
	if len(m.Attachments) != 1 || m.Attachments[0] != want {
		t.Fatalf("message attachments %+v, want %+v", m.Attachments, want)
	}
	if h := historyMessage(t, env, bob, conv, m.ID); len(h.Attachments) != 1 || h.Attachments[0] != want {
		t.Fatalf("history attachments %+v", h.Attachments)
	}
	// Now bob fetches it, with the headers of a file, not a page.
	st, hdr, b := rawRequest(t, env, "GET", "/api/attachments/"+info.ID, bob, nil, nil)
	if st != http.StatusOK || !bytes.Equal(b, img) {
		t.Fatalf("bob after the message: %d, %d bytes", st, len(b))
	}
	for k, v := range map[string]string{
		"Content-Type": "image/png", "X-Content-Type-Options": "nosniff", "Content-Disposition": `inline; filename=pic.png`,
		"Content-Security-Policy": "default-src 'none'; sandbox", "Accept-Ranges": "bytes",
	} {
		if got := hdr.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	etag := hdr.Get("ETag")
	if st, _, _ := rawRequest(t, env, "GET", "/api/attachments/"+info.ID, bob, nil, map[string]string{"If-None-Match": etag}); etag == "" || st != http.StatusNotModified {
		t.Fatalf("If-None-Match %q: %d, want 304", etag, st)
	}
	st, hdr, b = rawRequest(t, env, "GET", "/api/attachments/"+info.ID, bob, nil, map[string]string{"Range": "bytes=100-199"})
	if st != http.StatusPartialContent || !bytes.Equal(b, img[100:200]) || hdr.Get("Content-Range") != fmt.Sprintf("bytes 100-199/%d", len(img)) {
		t.Fatalf("range: %d %q, %d bytes", st, hdr.Get("Content-Range"), len(b))
	}
	if st, _, b = rawRequest(t, env, "GET", "/api/attachments/"+info.ID, bob, nil, map[string]string{"Range": "bytes=-10"}); st != http.StatusPartialContent || !bytes.Equal(b, img[len(img)-10:]) {
		t.Fatalf("suffix range: %d, %d bytes", st, len(b))
	}
	if st, _, _ = rawRequest(t, env, "GET", "/api/attachments/"+info.ID, bob, nil, map[string]string{"Range": "bytes=999999-"}); st != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("range past the end: %d, want 416", st)
	}
	// The token never comes in the URL (logs and history keep URLs); eve
	// is not a participant.
	if st, _, _ = rawRequest(t, env, "GET", "/api/attachments/"+info.ID+"?token="+bob, "", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("token in the query: %d, want 401", st)
	}
	if st, _, b = rawRequest(t, env, "GET", "/api/attachments/"+info.ID, eve, nil, nil); st != http.StatusNotFound || bytes.Contains(b, []byte("pic")) {
		t.Fatalf("eve: %d %s", st, b)
	}
	// It belongs to this conversation now: no other message takes it.
	if r := env.Do("POST", "/api/messages/"+other, alice, map[string]any{"body": "again", "client_temp_id": "a2", "attachments": []string{info.ID}}); r.Status != http.StatusConflict || r.ErrorCode() != "attachment_in_use" {
		t.Fatalf("attaching it elsewhere: %d %s", r.Status, r.Body)
	}

	// Deleting the message takes the attachment with it; the sweep
	// deletes its bytes, and an orphan past the TTL, and keeps the rest.
	keep := uploadFile(t, env, alice, "keep.png", "image/png", pngBytes(100), http.StatusCreated)
	env.MustDo(http.StatusCreated, "POST", "/api/messages/"+conv, alice, map[string]any{"body": "kept", "client_temp_id": "a3", "attachments": []string{keep.ID}}, nil)
	orphan := uploadFile(t, env, alice, "orphan.png", "image/png", pngBytes(100), http.StatusCreated)
	env.MustDo(http.StatusOK, "DELETE", "/api/messages/"+conv+"/"+m.ID, alice, nil, nil)
	if st, _, _ = rawRequest(t, env, "GET", "/api/attachments/"+info.ID, bob, nil, nil); st != http.StatusNotFound {
		t.Fatalf("after deleting the message: %d", st)
	}
	if n, err := env.Node.SweepAttachments(t.Context()); err != nil || n != 1 {
		t.Fatalf("sweep within the TTL deleted %d (%v), want the deleted message's 1", n, err)
	}
	if st, _, _ = rawRequest(t, env, "GET", "/api/attachments/"+orphan.ID, alice, nil, nil); st != http.StatusOK {
		t.Fatalf("an orphan within the TTL: %d", st)
	}
	env.Node.Config.AttachmentTTL = time.Nanosecond
	if n, err := env.Node.SweepAttachments(t.Context()); err != nil || n != 1 {
		t.Fatalf("sweep past the TTL deleted %d (%v), want the orphan", n, err)
	}
	if st, _, _ = rawRequest(t, env, "GET", "/api/attachments/"+orphan.ID, alice, nil, nil); st != http.StatusNotFound {
		t.Fatalf("an expired orphan: %d", st)
	}
	if st, _, _ = rawRequest(t, env, "GET", "/api/attachments/"+keep.ID, bob, nil, nil); st != http.StatusOK {
		t.Fatalf("a carried attachment after the sweeps: %d", st)
	}

	assertReadModelsEqualTheLog(t, env)
}

// Hostile uploads: too large, lying about their type, HTML, empty; and a
// retried upload with an Idempotency-Key stores once, concurrently too.
func TestAttachmentsRefuseHostileUploads(t *testing.T) {
	env := testkit.Start(t, func(c *node.Config) { c.MaxAttachmentBytes = 64 << 10 })
	alice, mallory := env.Token("alice"), env.Token("mallory")
	for _, c := range []struct {
		name, ctype string
		body        []byte
		status      int
		code        string
	}{
		{"too large", "image/png", pngBytes(64<<10 + 1), http.StatusRequestEntityTooLarge, "attachment_too_large"},
		{"a page said to be a picture", "image/png", []byte("<!DOCTYPE html><script>alert(1)</script>"), http.StatusUnprocessableEntity, "unsupported_content_type"},
		{"a page", "text/html", []byte("<html><body>hi</body></html>"), http.StatusUnprocessableEntity, "unsupported_content_type"},
		{"a picture said to be text", "text/plain", pngBytes(100), http.StatusUnprocessableEntity, "content_type_mismatch"},
		{"an unparsable type", "image/", pngBytes(100), http.StatusUnprocessableEntity, "content_type_mismatch"},
		{"nothing", "image/png", nil, http.StatusUnprocessableEntity, "attachment_empty"},
	} {
		st, _, b := rawRequest(t, env, "POST", "/api/attachments", mallory, c.body, map[string]string{"Content-Type": c.ctype})
		if st != c.status || errCode(b) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, st, b, c.status, c.code)
		}
	}
	// Chunked (no Content-Length) past the limit is cut off too.
	req, _ := http.NewRequest("POST", env.URL()+"/api/attachments", io.MultiReader(bytes.NewReader(pngBytes(100)), strings.NewReader(strings.Repeat("x", 70<<10))))
	req.Header.Set("Authorization", "Bearer "+mallory)
	req.ContentLength = -1
	resp, err := env.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || errCode(b) != "attachment_too_large" {
		t.Fatalf("chunked past the limit: %d %s", resp.StatusCode, b)
	}
	// Octet-stream takes the sniffed type; a key makes retries one upload
	// (at most 4 of one user's transfers run at once: the others are told
	// to retry).
	var ids sync.Map
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _, b := rawRequest(t, env, "POST", "/api/attachments?name=doc.txt", alice, []byte("plain words"), map[string]string{"Content-Type": "application/octet-stream", "Idempotency-Key": "k1"})
			if st == http.StatusTooManyRequests && errCode(b) == "too_many_transfers" {
				return
			}
			var info engine.AttachmentInfo
			if json.Unmarshal(b, &info) != nil || (st != http.StatusCreated && st != http.StatusOK) || info.ContentType != "text/plain" {
				t.Errorf("keyed upload: %d %s", st, b)
			}
			ids.Store(info.ID, true)
		}()
	}
	wg.Wait()
	var keyed []string
	ids.Range(func(k, _ any) bool { keyed = append(keyed, k.(string)); return true })
	if len(keyed) != 1 {
		t.Fatalf("six uploads with one key made %d attachments", len(keyed))
	}
	if st, _, b := rawRequest(t, env, "GET", "/api/attachments/"+keyed[0], alice, nil, nil); st != http.StatusOK || string(b) != "plain words" {
		t.Fatalf("the keyed upload itself: %d %q", st, b)
	}
	var many []string
	for i := range 11 {
		many = append(many, uploadFile(t, env, alice, fmt.Sprint("f", i), "text/plain", []byte("text"), http.StatusCreated).ID)
	}
	conv := createConv(t, env, alice, "room", "bob")
	if r := env.Do("POST", "/api/messages/"+conv, alice, map[string]any{"body": "many", "client_temp_id": "m", "attachments": many}); r.Status != http.StatusUnprocessableEntity || r.ErrorCode() != "too_many_attachments" {
		t.Fatalf("11 attachments: %d %s", r.Status, r.Body)
	}
	if st, hdr, _ := rawRequest(t, env, "GET", "/api/attachments/"+many[0], alice, nil, nil); st != http.StatusOK || hdr.Get("Content-Disposition") != "attachment; filename=f0" {
		t.Fatalf("text download: %d %q (not inline)", st, hdr.Get("Content-Disposition"))
	}
}
