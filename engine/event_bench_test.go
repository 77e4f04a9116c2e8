package engine

import (
	"strings"
	"testing"
	"time"
)

// BenchmarkEventEncode is the cost of building and encoding a message.sent
// envelope, once per send.
func BenchmarkEventEncode(b *testing.B) {
	body := strings.Repeat("x", 200)
	at := time.Now()
	b.ReportAllocs()
	for range b.N {
		ev, err := NewEvent(MessageSent, "01ARZ3NDEKTSV4RRFFQ69G5FAV", "alice", at, MessageSentData{Body: body, ClientTempID: "tmp-1"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ev.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEventDecodeWire is the cost of decoding a stored event and
// rendering it for clients, once per event delivered or replayed by delta.
func BenchmarkEventDecodeWire(b *testing.B) {
	ev, _ := NewEvent(MessageSent, "01ARZ3NDEKTSV4RRFFQ69G5FAV", "alice", time.Now(), MessageSentData{Body: strings.Repeat("x", 200), ClientTempID: "tmp-1"})
	raw, _ := ev.Encode()
	b.ReportAllocs()
	for i := range b.N {
		e, err := DecodeEvent(raw, uint64(i))
		if err != nil {
			b.Fatal(err)
		}
		_ = Wire(e)
	}
}
