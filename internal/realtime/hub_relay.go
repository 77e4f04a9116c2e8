package realtime

import (
	"context"
	"encoding/json"
	"parley/engine"
)

// ClientEvent is an ephemeral event between clients (a Pusher client event
// such as Echo's whisper("typing")): relayed to every node, never stored.
type ClientEvent struct {
	Channel string          `json:"channel"`
	Event   string          `json:"event"`
	Data    json.RawMessage `json:"data"`
	// UserID is the sender, as the server authenticated them.
	UserID string `json:"user_id"`
	// SocketID is the sending socket, which does not receive its own event.
	SocketID string `json:"socket_id,omitempty"`
}

// Relay carries client events between nodes. streams.Relay (core NATS) is
// one. Safe for concurrent use.
type Relay interface {
	// Publish sends ev to every node, this one included. Delivery is at most
	// once.
	Publish(ctx context.Context, ev ClientEvent) error
	// Subscribe calls fn for every client event until stop is called.
	Subscribe(fn func(ClientEvent)) (stop func(), err error)
}

// Deliver publishes a relayed client event to this node's subscribers of
// its channel, except the socket that sent it.
func (h *Hub) Deliver(ev ClientEvent) {
	h.Publish(&Frame{Channel: ev.Channel, Event: ev.Event, Data: ev.Data, UserID: ev.UserID, ExceptClient: ev.SocketID})
}

// WithUserID returns a client event's JSON object with user_id set to the
// sender (overwriting any the client put there), or ok=false when data is
// not a JSON object.
func WithUserID(data json.RawMessage, userID string) (json.RawMessage, bool) {
	var obj map[string]json.RawMessage
	if len(data) == 0 {
		obj = map[string]json.RawMessage{}
	} else if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return nil, false
	}
	id, err := engine.Marshal(userID)
	if err != nil {
		return nil, false
	}
	obj["user_id"] = id
	out, err := engine.Marshal(obj)
	return out, err == nil
}
