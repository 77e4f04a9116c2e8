package engine

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"
	"testing"
	"time"
)

// A delta written from the events' remembered JSON is byte for byte what
// encoding/json writes for the same struct, HTML escaping included, with or
// without a remembered form for each event.
func TestDeltaMarshalJSONEqualsEncodingJSON(t *testing.T) {
	r := NewRecentEvents()
	var evs []Event
	for i, body := range []string{"plain", "<b>tags</b> & 'quotes' \"too\"", "line\u2028sep \u00e9\U0001F600"} {
		ev, err := NewEvent(MessageSent, "c", "alice", time.Unix(1700000000, 0), MessageSentData{Body: body, ClientTempID: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		ev.Seq = uint64(i + 1)
		evs = append(evs, ev)
	}
	r.Feed(0, 3, evs, nil)
	wires, _, _, ok := r.Events("c", 0, 3, 10)
	if !ok || len(wires) != 3 {
		t.Fatalf("Events: %d, %v", len(wires), ok)
	}
	title := "<room>"
	d := &Delta{Conversation: ConversationSummary{ID: "c", Title: title}, Summary: UserSummary{UnreadTotal: 7}, HasMore: true, LastSeq: 3}
	for i, w := range wires {
		if w.Wire == nil || len(w.JSON) == 0 {
			t.Fatalf("event %d: the memory kept no wire form or JSON", i)
		}
		d.Events = append(d.Events, w.Wire)
		if i == 1 {
			d.encoded = append(d.encoded, nil) // as for a deleted message: encoded on the spot
		} else {
			d.encoded = append(d.encoded, w.JSON)
		}
	}
	type plain Delta // the same fields, without the MarshalJSON method
	want, err := stdjson.Marshal(plain(*d))
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("MarshalJSON:\n%s\nencoding/json:\n%s", got, want)
	}
	d.encoded = nil // a delta read from the log
	if got, _ := d.MarshalJSON(); !bytes.Equal(got, want) {
		t.Fatalf("without remembered JSON:\n%s\nencoding/json:\n%s", got, want)
	}
}
