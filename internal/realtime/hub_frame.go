package realtime

import (
	"encoding/json"
	"sync"
)

// Frame is one event on one channel as the hub fans it out. A published
// Frame is shared by every subscriber and must not be changed; each
// transport renders it once (Encoded) however many sockets receive it.
type Frame struct {
	// Channel is where the hub routes it; "" for a frame sent to one client.
	Channel string
	// Event is the event name (message.sent, conversation.updated,
	// member_added, client-typing, or a transport's own control event).
	Event string
	// Data is the JSON payload.
	Data json.RawMessage
	// Seq is the stream sequence of the log event it carries, 0 otherwise.
	Seq uint64
	// UserID is the sender of a client event.
	UserID string
	// ExceptClient and ExceptUser name who must not receive it: the socket
	// that sent a client event, or every socket of the user a presence
	// change is about.
	ExceptClient string
	ExceptUser   string
	// Lazy lets the frame wait up to the hub's LazyFlush before its
	// client's transport is woken, to leave with the frames after it in
	// one write (presence changes; see hub_lazy.go).
	Lazy bool

	enc [MaxEncodings]encoded
}

// Encoding identifies one transport's rendering of a Frame.
type Encoding int

// MaxEncodings bounds the transports that cache a rendering per message.
const MaxEncodings = 4

type encoded struct {
	once sync.Once
	b    []byte
}

// Encoded returns render(m), computed once per encoding for the life of m.
func (m *Frame) Encoded(e Encoding, render func(*Frame) []byte) []byte {
	slot := &m.enc[e]
	slot.once.Do(func() { slot.b = render(m) })
	return slot.b
}
