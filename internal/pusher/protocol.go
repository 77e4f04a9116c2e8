package pusher

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"parley/engine"
	"parley/internal/realtime"
)

// Pusher error codes (pusher.com/docs/channels/library_auth_reference/pusher-websockets-protocol).
// 4000-4099: do not reconnect; 4100-4199: reconnect with backoff;
// 4200-4299: reconnect now; 4300-4399: other errors.
const (
	pusherAppNotFound      = 4001
	pusherOverQuota        = 4004
	pusherUnsupportedProto = 4007
	pusherNoProtocol       = 4008
	pusherUnauthorized     = 4009
	pusherOverCapacity     = 4100
	pusherReconnect        = 4200
	pusherPongTimeout      = 4201
	pusherInactive         = 4202
	pusherClientRateLimit  = 4301
)

// pusherProtocol is the protocol version Parley speaks.
const pusherProtocol = "7"

// Pusher event names.
const (
	evConnectionEstablished = "pusher:connection_established"
	evError                 = "pusher:error"
	evPing                  = "pusher:ping"
	evPong                  = "pusher:pong"
	evSubscribe             = "pusher:subscribe"
	evUnsubscribe           = "pusher:unsubscribe"
	evSubscriptionError     = "pusher:subscription_error"
	evSubscriptionSucceeded = "pusher_internal:subscription_succeeded"
	evMemberAdded           = "pusher_internal:member_added"
	evMemberRemoved         = "pusher_internal:member_removed"
)

// encPusher is the hub encoding slot of Pusher frames.
const encPusher realtime.Encoding = 0

// pusherOut is a frame the server sends: data is always a JSON-encoded
// string, as pusher-js expects.
type pusherOut struct {
	Event   string `json:"event"`
	Channel string `json:"channel,omitempty"`
	Data    string `json:"data"`
	UserID  string `json:"user_id,omitempty"`
}

// pusherIn is a frame a client sends: pusher-js sends data as an object,
// other clients as a string; both are accepted.
type pusherIn struct {
	Event   string          `json:"event"`
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
}

// payload returns the frame's data as JSON: a string holding JSON is
// unwrapped.
func (f *pusherIn) payload() json.RawMessage {
	d := json.RawMessage(strings.TrimSpace(string(f.Data)))
	if len(d) > 0 && d[0] == '"' {
		var s string
		if json.Unmarshal(d, &s) == nil {
			return json.RawMessage(s)
		}
	}
	return d
}

// pusherName maps hub event names to Pusher's.
func pusherName(event string) string {
	switch event {
	case engine.EventMemberAdded:
		return evMemberAdded
	case engine.EventMemberRemoved:
		return evMemberRemoved
	}
	return event
}

// renderPusher renders a hub frame as a Pusher frame.
func renderPusher(m *realtime.Frame) []byte {
	data := string(m.Data)
	if data == "" {
		data = "{}"
	}
	b, _ := engine.Marshal(pusherOut{Event: pusherName(m.Event), Channel: realtime.ChannelName(m.Channel), Data: data, UserID: m.UserID})
	return b
}

// control builds a frame for one client (not routed by channel).
func control(event, channel string, data any) *realtime.Frame {
	raw, _ := engine.Marshal(data)
	return &realtime.Frame{Event: event, Data: raw, Channel: channel}
}

// pusherError is the data of pusher:error.
type pusherError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func errorFrame(code int, msg string) *realtime.Frame {
	return control(evError, "", pusherError{Code: code, Message: msg})
}

// subscriptionError is the data of pusher:subscription_error, the shape
// pusher-js gives Echo's .error() callback.
type subscriptionError struct {
	Type   string `json:"type"`
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// SignChannel returns Pusher's auth signature of a subscription:
// hex(HMAC-SHA256(secret, "socket_id:channel[:channel_data]")).
func SignChannel(secret []byte, socketID, channel, channelData string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(socketID + ":" + channel))
	if channelData != "" {
		mac.Write([]byte(":" + channelData))
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// verifyAuth checks a subscription's "key:signature".
func verifyAuth(key string, secret []byte, auth, socketID, channel, channelData string) bool {
	k, sig, ok := strings.Cut(auth, ":")
	if !ok || k != key {
		return false
	}
	want := SignChannel(secret, socketID, channel, channelData)
	return hmac.Equal([]byte(sig), []byte(want))
}

// ChannelData is the signed identity a subscription carries.
type ChannelData struct {
	UserID   string          `json:"user_id"`
	UserInfo json.RawMessage `json:"user_info,omitempty"`
}

// ValidSocketID reports whether s looks like "123.456".
func ValidSocketID(s string) bool {
	a, b, ok := strings.Cut(s, ".")
	return ok && len(s) <= 64 && digits(a) && digits(b)
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
