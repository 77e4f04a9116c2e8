package pusher

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"parley/engine"
)

// FuzzPusherFrame: any client frame is parsed without a panic; its payload
// is the data, unwrapped when it is a JSON string; a channel name is
// accepted exactly when Pusher's rules allow it; a socket id exactly when it
// is "digits.digits"; the server's channel signature is Pusher's HMAC, and
// verifyAuth accepts exactly "key:" and that signature, never anything else
// the frame or a tampering brings.
func FuzzPusherFrame(f *testing.F) {
	for _, s := range []string{
		`{"event":"pusher:subscribe","data":{"channel":"private-conversation.01ARZ3NDEKTSV4RRFFQ69G5FAV","auth":"k:abc"}}`,
		`{"event":"pusher:subscribe","data":"{\"channel\":\"presence-messaging\",\"auth\":\"k:1\",\"channel_data\":\"{}\"}"}`,
		`{"event":"client-typing","channel":"private-user.a","data":{"typing":true}}`,
		`{"event":"pusher:ping","data":{}}`, `{"event":5}`, `[]`, `{"data":"\"\""}`, `{"channel":"presence-conversation."}`,
		`{"data":"123.456"}`, `{"data":" 1.2 "}`, `{"channel":"private-ÿ"}`,
		`{"event":"pusher:subscribe","data":{"channel":"presence-messaging","auth":"key:0000","channel_data":"{\"user_id\":\"a\"}"}}`,
	} {
		f.Add([]byte(s))
	}
	secret := []byte("fuzz-secret")
	channelName := regexp.MustCompile(`^[A-Za-z0-9_\-=@,.;]{1,164}$`)
	socketID := regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	// pusherSig is Pusher's documented channel signature.
	pusherSig := func(sid, channel, data string) string {
		mac := hmac.New(sha256.New, secret)
		msg := sid + ":" + channel
		if data != "" {
			msg += ":" + data
		}
		mac.Write([]byte(msg))
		return hex.EncodeToString(mac.Sum(nil))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var in pusherIn
		if json.Unmarshal(raw, &in) != nil {
			return
		}
		p := in.payload()
		var str string
		if d := strings.TrimSpace(string(in.Data)); strings.HasPrefix(d, `"`) && json.Unmarshal([]byte(d), &str) == nil {
			if string(p) != str {
				t.Fatalf("payload of string data %s = %q, want %q", in.Data, p, str)
			}
		} else if string(p) != d {
			t.Fatalf("payload of %s = %q, want it trimmed", in.Data, p)
		}
		var sub struct {
			Channel     string `json:"channel"`
			Auth        string `json:"auth"`
			ChannelData string `json:"channel_data"`
		}
		_ = json.Unmarshal(p, &sub)

		for _, name := range []string{in.Channel, sub.Channel} {
			ch, err := engine.ParseChannel(name)
			if (err == nil) != channelName.MatchString(name) {
				t.Fatalf("ParseChannel(%q): %v", name, err)
			}
			if err != nil {
				continue
			}
			if ch.Name != name {
				t.Fatalf("ParseChannel(%q) named %q", name, ch.Name)
			}
			if ch.ConversationID != "" && name != "private-conversation."+ch.ConversationID && name != "presence-conversation."+ch.ConversationID {
				t.Fatalf("ParseChannel(%q) found conversation %q", name, ch.ConversationID)
			}
			if ch.UserID != "" && name != "private-user."+ch.UserID {
				t.Fatalf("ParseChannel(%q) found user %q", name, ch.UserID)
			}
		}

		for _, s := range []string{string(p), in.Channel, sub.Auth} {
			if got, want := ValidSocketID(s), len(s) <= 64 && socketID.MatchString(s); got != want {
				t.Fatalf("ValidSocketID(%q) = %v, want %v", s, got, want)
			}
		}

		sid := "123.456"
		sig := pusherSig(sid, sub.Channel, sub.ChannelData)
		if got := SignChannel(secret, sid, sub.Channel, sub.ChannelData); got != sig {
			t.Fatalf("SignChannel for %q = %s, want Pusher's HMAC %s", sub.Channel, got, sig)
		}
		flipped := []byte(sig)
		flipped[len(flipped)-1] ^= 1 // another hex digit
		auths := []string{
			sub.Auth, "key:" + sig, "key:" + string(flipped), "key:" + strings.ToUpper(sig), "key:" + sig + "0", "key:" + sig[1:],
			"other:" + sig, sig, "key:" + pusherSig("123.457", sub.Channel, sub.ChannelData),
			"key:" + pusherSig(sid, sub.Channel+"x", sub.ChannelData), "key:" + pusherSig(sid, sub.Channel, sub.ChannelData+"x"),
		}
		for _, auth := range auths {
			want := auth == "key:"+sig
			if got := verifyAuth("key", secret, auth, sid, sub.Channel, sub.ChannelData); got != want {
				t.Fatalf("verifyAuth(%q) for %q (channel_data %q) = %v, want %v", auth, sub.Channel, sub.ChannelData, got, want)
			}
		}
	})
}
