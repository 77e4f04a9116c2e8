package engine

import (
	"strings"
	"testing"
	"time"
)

func TestValidUserID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"alice", true}, {"42", true}, {"a.b-c_d=e@f,g;h", true}, {strings.Repeat("x", 128), true},
		{"", false}, {strings.Repeat("x", 129), false}, {"a b", false}, {"a:b", false}, {"a|b", false},
		{"ü", false}, {"a\nb", false}, {"a*b", false}, {"a>b", false},
	} {
		if got := ValidUserID(tc.id); got != tc.want {
			t.Errorf("ValidUserID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestValidID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"01ARZ3NDEKTSV4RRFFQ69G5FAV", true},
		{"01arz3ndektsv4rrffq69g5fav", false}, // not canonical
		{"01ARZ3NDEKTSV4RRFFQ69G5FA", false},
		{"81ARZ3NDEKTSV4RRFFQ69G5FAV", false}, // overflows 128 bits
		{"01ARZ3NDEKTSV4RRFFQ69G5FA!", false},
		{"", false},
	} {
		if got := ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestCheckBody(t *testing.T) {
	l := DefaultLimits()
	for _, tc := range []struct {
		body, want, code string
	}{
		{"  hi \n", "hi", ""},
		{"line\nbreak\ttab", "line\nbreak\ttab", ""},
		{strings.Repeat("é", 8<<10), strings.Repeat("é", 8<<10), ""}, // 16 KiB exactly
		{strings.Repeat("é", 8<<10) + "x", "", "body_too_long"},
		{" \t\n", "", "body_required"},
		{"bell\a", "", "invalid_body"},
		{"\xff", "", "invalid_body"},
	} {
		got, err := l.checkBody(tc.body)
		code := ""
		if e := AsError(err); e != nil {
			code = e.Code
		}
		if code != tc.code || got != tc.want {
			t.Errorf("checkBody(%.20q) = %.20q, %q; want %.20q, %q", tc.body, got, code, tc.want, tc.code)
		}
	}
}

func TestEventRoundTripAndWire(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC)
	ev, err := NewEvent(MessageSent, "01ARZ3NDEKTSV4RRFFQ69G5FAV", "alice", at, MessageSentData{Body: "<b>&", ClientTempID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "<b>&") {
		t.Fatalf("encoded event escapes HTML: %s", raw)
	}
	back, err := DecodeEvent(raw, 7)
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != ev.ID || back.Seq != 7 || !back.At.Equal(ev.At) || back.Type != MessageSent {
		t.Fatalf("round trip changed the event: %+v vs %+v", back, ev)
	}
	w := Wire(back)
	m, ok := w.Data.(Message)
	if !ok || m.ID != ev.ID.String() || m.Seq != 7 || m.Body != "<b>&" || m.SenderID != "alice" || m.CreatedAt != "2026-11-25T12:00:00.123456Z" {
		t.Fatalf("wire message = %#v", w.Data)
	}
}
