package engine

import (
	"testing"
	"time"
)

// FuzzDecodeEvent: whatever a stream message holds, decoding either fails or
// gives an event that renders for clients and encodes again; never a panic.
func FuzzDecodeEvent(f *testing.F) {
	ev, _ := NewEvent(MessageSent, "01ARZ3NDEKTSV4RRFFQ69G5FAV", "alice", time.Now(), MessageSentData{Body: "hi", ClientTempID: "t"})
	raw, _ := ev.Encode()
	f.Add(raw)
	f.Add([]byte(`{"type":"message.edited","id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","data":{"message_id":5}}`))
	f.Add([]byte(`{"type":"conversation.read","data":null}`))
	f.Add([]byte(`{"id":"not a ulid"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := DecodeEvent(raw, 9)
		if err != nil {
			return
		}
		w := Wire(ev)
		if w.Seq != 9 {
			t.Fatalf("seq = %d", w.Seq)
		}
		if _, err := Marshal(w); err != nil && ev.Data != nil {
			t.Logf("wire form does not encode: %v", err)
		}
	})
}

// FuzzValidators: the id, user id and body checks never panic and agree
// with their documented bounds.
func FuzzValidators(f *testing.F) {
	for _, s := range []string{"alice", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "", " ", "a\x00b", "\xff", "élan"} {
		f.Add(s)
	}
	l := DefaultLimits()
	f.Fuzz(func(t *testing.T, s string) {
		if ValidUserID(s) && (len(s) == 0 || len(s) > 128) {
			t.Fatalf("ValidUserID(%q) accepted a bad length", s)
		}
		if ValidID(s) && len(s) != 26 {
			t.Fatalf("ValidID(%q)", s)
		}
		if body, err := l.checkBody(s); err == nil && (body == "" || len(body) > l.MaxBodyBytes) {
			t.Fatalf("checkBody(%q) = %q", s, body)
		}
		_ = l.checkTempID(s)
	})
}

// FuzzListCursor: a list cursor is accepted only as a positive decimal
// number; anything else is 400 invalid_cursor, never a panic.
func FuzzListCursor(f *testing.F) {
	for _, s := range []string{"", "1", "0", "-5", "abc", "99999999999999999999", "12a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, c string) {
		n, err := parseListCursor(c)
		if err != nil {
			if e := AsError(err); e == nil || e.Code != "invalid_cursor" {
				t.Fatalf("parseListCursor(%q) = %v", c, err)
			}
			return
		}
		if c != "" && n == 0 {
			t.Fatalf("parseListCursor(%q) accepted 0", c)
		}
	})
}
