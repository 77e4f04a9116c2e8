package engine

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// FuzzDecodeEvent: whatever a stream message holds, decoding either fails or
// gives an event that encodes, decodes back to the same event (and encodes
// to the same bytes again), and renders for clients with its sequence and
// id; never a panic.
func FuzzDecodeEvent(f *testing.F) {
	ev, _ := NewEvent(MessageSent, "01ARZ3NDEKTSV4RRFFQ69G5FAV", "alice", time.Now(), MessageSentData{Body: "hi", ClientTempID: "t"})
	raw, _ := ev.Encode()
	f.Add(raw)
	f.Add([]byte(`{"type":"message.edited","id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","data":{"message_id":5}}`))
	f.Add([]byte(`{"type":"conversation.read","data":null}`))
	f.Add([]byte(`{"type":"message.sent","at":"2024-01-02T03:04:05.123456789+02:00","data":{ "body" : "<&>" }}`))
	f.Add([]byte(`{"id":"not a ulid"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := DecodeEvent(raw, 9)
		if err != nil {
			return
		}
		if ev.Seq != 9 {
			t.Fatalf("seq = %d, want 9", ev.Seq)
		}
		enc, err := ev.Encode()
		if err != nil {
			t.Fatalf("a decoded event does not encode: %v", err)
		}
		back, err := DecodeEvent(enc, 9)
		if err != nil {
			t.Fatalf("its encoding %s does not decode: %v", enc, err)
		}
		// Strings come back as they went in, but for bytes that are not
		// UTF-8, which JSON encoding replaces with U+FFFD.
		if back.Type != EventType(validUTF8(string(ev.Type))) || back.ID != ev.ID || back.ConversationID != validUTF8(ev.ConversationID) ||
			back.ActorID != validUTF8(ev.ActorID) || !back.At.Equal(ev.At) || back.Seq != 9 {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", ev, back)
		}
		if !sameJSON(t, ev.Data, back.Data) {
			t.Fatalf("round trip changed the data: %s -> %s", ev.Data, back.Data)
		}
		// Encoding again gives the same bytes (the same JSON value when
		// the input held bytes that are not UTF-8: the first encoding
		// escapes their replacements, the second writes them as they are).
		again, err := back.Encode()
		if err != nil {
			t.Fatalf("the decoded encoding does not encode: %v", err)
		}
		if utf8.Valid(raw) && !bytes.Equal(again, enc) || !sameJSON(t, again, enc) {
			t.Fatalf("encoding is not stable: %s then %s", enc, again)
		}

		w := Wire(ev)
		if w.Seq != 9 || w.Type != ev.Type || w.ID != ev.ID.String() || w.ConversationID != ev.ConversationID || w.ActorID != ev.ActorID {
			t.Fatalf("wire form %+v of %+v", w, ev)
		}
		out, err := Marshal(w)
		if err != nil {
			t.Fatalf("wire form does not encode: %v", err)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(out, &obj); err != nil {
			t.Fatalf("wire form %s is not a JSON object: %v", out, err)
		}
		if string(obj["seq"]) != "9" {
			t.Fatalf("wire form %s: seq %s, want 9", out, obj["seq"])
		}
	})
}

// validUTF8 is s with each byte that is not part of a UTF-8 sequence
// replaced by U+FFFD.
func validUTF8(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r) // a bad byte ranges as utf8.RuneError, U+FFFD
	}
	return b.String()
}

// sameJSON reports whether two JSON texts hold the same value (an absent
// text is null).
func sameJSON(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	var va, vb any
	for _, p := range []struct {
		raw json.RawMessage
		v   *any
	}{{a, &va}, {b, &vb}} {
		if len(p.raw) == 0 {
			continue
		}
		d := json.NewDecoder(bytes.NewReader(p.raw))
		d.UseNumber()
		if err := d.Decode(p.v); err != nil {
			t.Fatalf("data %s is not JSON: %v", p.raw, err)
		}
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}

// FuzzValidators: the id, user id, body and client_temp_id checks never
// panic, and accept exactly what their documented rules allow (the rules
// are restated here, bounds written out).
func FuzzValidators(f *testing.F) {
	for _, s := range []string{"alice", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "81ARZ3NDEKTSV4RRFFQ69G5FAV", "01arz3ndektsv4rrffq69g5fav",
		"", " ", "a\x00b", "\xff", "élan", " hi\n", "a b", "tab\there", strings.Repeat("x", 65), strings.Repeat("é", 64)} {
		f.Add(s)
	}
	l := DefaultLimits()
	f.Fuzz(func(t *testing.T, s string) {
		// A user id: 1 to 128 bytes of letters, digits and _-=@,.;
		wantUser := len(s) >= 1 && len(s) <= 128 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-=@,.;") == ""
		if got := ValidUserID(s); got != wantUser {
			t.Fatalf("ValidUserID(%q) = %v, want %v", s, got, wantUser)
		}
		// An id: a canonical ULID, 26 upper-case Crockford base32
		// characters, the first at most 7 (128 bits).
		wantID := len(s) == 26 && s[0] >= '0' && s[0] <= '7' && strings.Trim(s, "0123456789ABCDEFGHJKMNPQRSTVWXYZ") == ""
		if got := ValidID(s); got != wantID {
			t.Fatalf("ValidID(%q) = %v, want %v", s, got, wantID)
		}
		// A body: valid UTF-8, trimmed, 1 to 16 KiB, no control characters
		// but newline, tab and carriage return.
		trimmed := strings.TrimSpace(s)
		wantBody := utf8.ValidString(s) && trimmed != "" && len(trimmed) <= 16384 &&
			strings.IndexFunc(trimmed, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' }) < 0
		body, err := l.checkBody(s)
		if (err == nil) != wantBody {
			t.Fatalf("checkBody(%q): %v, want accepted %v", s, err, wantBody)
		}
		if err == nil && body != trimmed {
			t.Fatalf("checkBody(%q) = %q, want it trimmed", s, body)
		}
		if err != nil {
			if e := AsError(err); e == nil || (e.Code != "invalid_body" && e.Code != "body_required" && e.Code != "body_too_long") {
				t.Fatalf("checkBody(%q) = %v", s, err)
			}
		}
		// A client_temp_id: valid UTF-8, 1 to 64 characters, no spaces or
		// control characters.
		wantTemp := s != "" && utf8.ValidString(s) && utf8.RuneCountInString(s) <= 64 &&
			strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) < 0
		if err := l.checkTempID(s); (err == nil) != wantTemp {
			t.Fatalf("checkTempID(%q): %v, want accepted %v", s, err, wantTemp)
		}
	})
}

// FuzzListCursor: a list cursor is accepted only as a positive decimal
// number; anything else is 400 invalid_cursor, never a panic.
func FuzzListCursor(f *testing.F) {
	for _, s := range []string{"", "1", "0", "-5", "+5", "007", "abc", "99999999999999999999", "18446744073709551615", "12a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, c string) {
		n, err := parseListCursor(c)
		if err != nil {
			if e := AsError(err); e == nil || e.Code != "invalid_cursor" {
				t.Fatalf("parseListCursor(%q) = %v", c, err)
			}
			if c == "" {
				t.Fatal(`parseListCursor("") refused the absent cursor`)
			}
			if strings.Trim(c, "0123456789") == "" && len(strings.TrimLeft(c, "0")) > 0 && len(strings.TrimLeft(c, "0")) < 20 {
				t.Fatalf("parseListCursor(%q) refused a positive number", c)
			}
			return
		}
		if c == "" {
			if n != 0 {
				t.Fatalf(`parseListCursor("") = %d`, n)
			}
			return
		}
		if strings.Trim(c, "0123456789") != "" || n == 0 || strings.TrimLeft(c, "0") != strconv.FormatUint(n, 10) {
			t.Fatalf("parseListCursor(%q) = %d", c, n)
		}
	})
}

// An event whose data is not JSON is refused, not handed to the projector.
func TestDecodeEventRefusesDataThatIsNotJSON(t *testing.T) {
	for _, data := range []string{`{"body":"x",}`, `{"body":}`, `{"body":"x"`, `[1,]`} {
		raw := []byte(`{"type":"message.sent","id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","data":` + data + `}`)
		if ev, err := DecodeEvent(raw, 3); err == nil {
			t.Errorf("data %s decoded as %+v, want an error", data, ev)
		}
	}
	raw := []byte(`{"type":"message.sent","id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","data":{"body":"x","client_temp_id":"t"}}`)
	if _, err := DecodeEvent(raw, 3); err != nil {
		t.Errorf("valid event: %v", err)
	}
}
