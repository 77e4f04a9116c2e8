package streams

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"

	"parley/internal/realtime"
)

// Subjects of the app bus: server events travel on
// parley.app.event.<b64(channel key)>, terminations on parley.app.terminate.
// Core NATS, never stored: every node gets them at most once.
const (
	appEventPrefix    = "parley.app.event."
	appTerminateTopic = "parley.app.terminate"
)

// AppBus carries the HTTP API's server events and user terminations
// between nodes over core NATS.
type AppBus struct {
	nc *nats.Conn
}

var _ realtime.AppBus = (*AppBus)(nil)

// AppBus returns the app bus on this connection.
func (c *Conn) AppBus() *AppBus { return &AppBus{nc: c.nc} }

// Publish sends ev to every node subscribed, this one included.
func (b *AppBus) Publish(_ context.Context, ev realtime.ServerEvent) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if err := b.nc.Publish(appEventPrefix+base64.RawURLEncoding.EncodeToString([]byte(ev.Key)), data); err != nil {
		return fmt.Errorf("app bus publish %s: %w", ev.Event, err)
	}
	return nil
}

// Terminate asks every node to close the user's connections to the app.
func (b *AppBus) Terminate(_ context.Context, t realtime.Termination) error {
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := b.nc.Publish(appTerminateTopic, data); err != nil {
		return fmt.Errorf("app bus terminate: %w", err)
	}
	return nil
}

// Subscribe calls onEvent and onTerminate for what any node sends. Like the
// client-event relay, a node that falls far behind drops events rather than
// buffering without bound.
func (b *AppBus) Subscribe(onEvent func(realtime.ServerEvent), onTerminate func(realtime.Termination)) (func(), error) {
	events, err := b.nc.Subscribe(appEventPrefix+">", func(m *nats.Msg) {
		var ev realtime.ServerEvent
		if json.Unmarshal(m.Data, &ev) == nil && ev.Key != "" {
			onEvent(ev)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("app bus subscribe: %w", err)
	}
	terms, err := b.nc.Subscribe(appTerminateTopic, func(m *nats.Msg) {
		var t realtime.Termination
		if json.Unmarshal(m.Data, &t) == nil && t.UserID != "" {
			onTerminate(t)
		}
	})
	if err != nil {
		_ = events.Unsubscribe()
		return nil, fmt.Errorf("app bus subscribe: %w", err)
	}
	for _, s := range []*nats.Subscription{events, terms} {
		if err := s.SetPendingLimits(relayPendingMsgs, relayPendingBytes); err != nil {
			_ = events.Unsubscribe()
			_ = terms.Unsubscribe()
			return nil, err
		}
	}
	return func() { _ = events.Unsubscribe(); _ = terms.Unsubscribe() }, nil
}
