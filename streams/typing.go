package streams

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"

	"parley/internal/realtime"
)

// clientSubjectPrefix is where client events (typing, whispers) travel over
// core NATS: never stored, delivered to every node at most once.
const clientSubjectPrefix = "parley.client."

// Relay pending limits: a node that falls this far behind drops client
// events (they are ephemeral) instead of buffering without bound.
const (
	relayPendingMsgs  = 8192
	relayPendingBytes = 16 << 20
)

// Relay carries client events between nodes over core NATS.
type Relay struct {
	nc *nats.Conn
}

var _ realtime.Relay = (*Relay)(nil)

// Relay returns the client-event relay on this connection.
func (c *Conn) Relay() *Relay { return &Relay{nc: c.nc} }

func clientSubject(channel string) string {
	return clientSubjectPrefix + base64.RawURLEncoding.EncodeToString([]byte(channel))
}

// Publish sends ev to every node subscribed, this one included.
func (r *Relay) Publish(_ context.Context, ev realtime.ClientEvent) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if err := r.nc.Publish(clientSubject(ev.Channel), data); err != nil {
		return fmt.Errorf("relay %s: %w", ev.Event, err)
	}
	return nil
}

// Subscribe calls fn for every client event any node publishes.
func (r *Relay) Subscribe(fn func(realtime.ClientEvent)) (func(), error) {
	sub, err := r.nc.Subscribe(clientSubjectPrefix+">", func(m *nats.Msg) {
		var ev realtime.ClientEvent
		if json.Unmarshal(m.Data, &ev) == nil && ev.Channel != "" {
			fn(ev)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("relay subscribe: %w", err)
	}
	if err := sub.SetPendingLimits(relayPendingMsgs, relayPendingBytes); err != nil {
		_ = sub.Unsubscribe()
		return nil, err
	}
	return func() { _ = sub.Unsubscribe() }, nil
}
