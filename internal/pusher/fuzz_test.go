package pusher

import (
	"encoding/json"
	"testing"

	"parley/engine"
)

// FuzzPusherFrame: any client frame is parsed without a panic, its payload
// is either JSON or refused, channel names parse or are refused, and a
// signature the server makes always verifies while any other auth string
// for another channel does not.
func FuzzPusherFrame(f *testing.F) {
	for _, s := range []string{
		`{"event":"pusher:subscribe","data":{"channel":"private-conversation.01ARZ3NDEKTSV4RRFFQ69G5FAV","auth":"k:abc"}}`,
		`{"event":"pusher:subscribe","data":"{\"channel\":\"presence-messaging\",\"auth\":\"k:1\",\"channel_data\":\"{}\"}"}`,
		`{"event":"client-typing","channel":"private-user.a","data":{"typing":true}}`,
		`{"event":"pusher:ping","data":{}}`, `{"event":5}`, `[]`, `{"data":"\"\""}`, `{"channel":"presence-conversation."}`,
	} {
		f.Add([]byte(s))
	}
	secret := []byte("fuzz-secret")
	f.Fuzz(func(t *testing.T, raw []byte) {
		var in pusherIn
		if json.Unmarshal(raw, &in) != nil {
			return
		}
		p := in.payload()
		var sub struct {
			Channel     string `json:"channel"`
			Auth        string `json:"auth"`
			ChannelData string `json:"channel_data"`
		}
		_ = json.Unmarshal(p, &sub)
		for _, name := range []string{in.Channel, sub.Channel} {
			if ch, err := engine.ParseChannel(name); err == nil && ch.Name != name {
				t.Fatalf("ParseChannel(%q) named %q", name, ch.Name)
			}
		}
		sid := "123.456"
		good := "key:" + SignChannel(secret, sid, sub.Channel, sub.ChannelData)
		if !verifyAuth("key", secret, good, sid, sub.Channel, sub.ChannelData) {
			t.Fatalf("a server signature for %q does not verify", sub.Channel)
		}
		if sub.Auth != good && verifyAuth("key", secret, sub.Auth, sid, sub.Channel, sub.ChannelData) {
			t.Fatalf("a foreign auth %q verified for %q", sub.Auth, sub.Channel)
		}
		_ = ValidSocketID(string(p))
	})
}
