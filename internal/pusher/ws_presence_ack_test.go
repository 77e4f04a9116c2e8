package pusher

import (
	"encoding/json"
	"reflect"
	"testing"

	"parley/internal/realtime"
)

// The presence ack is Pusher's presence data in the members' order: ids
// escaped as JSON strings, a duplicate once, missing or broken user info
// as null.
func TestPresenceAckData(t *testing.T) {
	f := presenceAck("presence-messaging", []realtime.Member{
		{UserID: "a", Info: json.RawMessage(`{"name":"A"}`)},
		{UserID: `q"uote</script>`},
		{UserID: "a", Info: json.RawMessage(`{"name":"again"}`)},
		{UserID: "z", Info: json.RawMessage(`{broken`)},
	})
	if f.Event != "pusher_internal:subscription_succeeded" || f.Channel != "presence-messaging" {
		t.Fatalf("frame %s on %s", f.Event, f.Channel)
	}
	var got struct {
		Presence struct {
			IDs   []string                   `json:"ids"`
			Hash  map[string]json.RawMessage `json:"hash"`
			Count int                        `json:"count"`
		} `json:"presence"`
	}
	if err := json.Unmarshal(f.Data, &got); err != nil {
		t.Fatalf("%s: %v", f.Data, err)
	}
	p := got.Presence
	if want := []string{"a", `q"uote</script>`, "z"}; !reflect.DeepEqual(p.IDs, want) || p.Count != 3 {
		t.Fatalf("ids %q count %d, want %q and 3", p.IDs, p.Count, want)
	}
	for id, want := range map[string]string{"a": `{"name":"A"}`, `q"uote</script>`: "null", "z": "null"} {
		if string(p.Hash[id]) != want {
			t.Errorf("hash[%q] = %s, want %s", id, p.Hash[id], want)
		}
	}
	if len(p.Hash) != 3 {
		t.Errorf("hash has %d entries, want 3", len(p.Hash))
	}
}
