package api

import (
	"strings"
	"testing"
	"time"

	"parley/engine"
)

// FuzzDecodeBody: any body either decodes into the request or is refused
// with a 400/413 engine error; never a panic, never another kind of error.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{"body":"hi","client_temp_id":"t"}`, `{"body":5}`, `{}`, `[]`, `null`, ``, `{"x":1}`,
		"{\"body\":\"\xff\"}", `{"body":"a"} {}`, `{"participant_ids":["a","b"],"title":"t"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range []any{&sendRequest{}, &createConversationRequest{}, &readRequest{}, &addParticipantsRequest{}} {
			err := decodeBody(body, v)
			if err == nil {
				continue
			}
			e := engine.AsError(err)
			if e == nil || (e.Kind != engine.KindMalformed && e.Kind != engine.KindTooLarge) {
				t.Fatalf("decodeBody(%q) = %v, want a malformed-request error", body, err)
			}
		}
	})
}

// FuzzVerifyToken: arbitrary strings never verify and never panic; a token
// minted with the secret always verifies.
func FuzzVerifyToken(f *testing.F) {
	secret := []byte("fuzz-secret")
	good, _ := MintToken(secret, "alice", "Alice", false, time.Hour)
	for _, s := range []string{good, "", "a.b.c", good[:len(good)-2], strings.Replace(good, ".", "..", 1), "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0."} {
		f.Add(s)
	}
	a := NewAuthenticator(secret)
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := a.Verify(tok)
		if err != nil {
			if e := engine.AsError(err); e == nil || e.Kind != engine.KindUnauthorized {
				t.Fatalf("Verify(%q) = %v, want 401", tok, err)
			}
			return
		}
		if tok != good || id.UserID != "alice" {
			t.Fatalf("Verify accepted %q as %+v", tok, id)
		}
	})
}
