package realtime

import (
	"context"
	"parley/engine"
	"strings"
)

// Application channels are the channels a Pusher app publishes on through
// the HTTP API (public, private-, presence-, cache- ...), as opposed to
// Parley's own conversation and user channels. Several apps share one hub:
// a channel's hub key is its name on the messaging app, and
// "~<app id>|<name>" on every other app. '~' and '|' are not allowed in
// channel names, so no key of one app can name another app's channel.

// appKeyPrefix starts the hub key of a non-messaging app's channel.
const appKeyPrefix = "~"

// AppChannelKey is the hub key of channel name on app appID; "" is the
// messaging app, whose keys are the names themselves.
func AppChannelKey(appID, name string) string {
	if appID == "" {
		return name
	}
	return appKeyPrefix + appID + "|" + name
}

// SplitChannelKey returns the app id ("" for the messaging app) and the
// channel name of a hub key.
func SplitChannelKey(key string) (appID, name string) {
	if !strings.HasPrefix(key, appKeyPrefix) {
		return "", key
	}
	app, name, ok := strings.Cut(key[len(appKeyPrefix):], "|")
	if !ok {
		return "", key
	}
	return app, name
}

// ChannelName is the name clients know a hub key by.
func ChannelName(key string) string {
	_, name := SplitChannelKey(key)
	return name
}

// IsCacheChannel reports whether a channel remembers its last event
// (cache-, private-cache-, presence-cache-).
func IsCacheChannel(name string) bool {
	return strings.HasPrefix(name, "cache-") || strings.HasPrefix(name, "private-cache-") ||
		strings.HasPrefix(name, "presence-cache-")
}

// IsParleyChannel reports whether ch is one of Parley's own channel
// families, which only the messaging app serves.
func IsParleyChannel(ch engine.Channel) bool {
	switch ch.Kind {
	case engine.ChannelConversation, engine.ChannelUser, engine.ChannelPresenceConversation, engine.ChannelPresenceMessaging:
		return true
	}
	return false
}

// ServerEvent is an event an app triggers through the HTTP API: relayed to
// every node, never stored (a cache channel's last one excepted).
type ServerEvent struct {
	// Key is the channel's hub key.
	Key   string `json:"key"`
	Event string `json:"event"`
	// Data is delivered as given: Pusher's data is a string, usually JSON.
	Data string `json:"data"`
	// ExceptSocket is the socket that must not receive it (the API's
	// socket_id).
	ExceptSocket string `json:"except,omitempty"`
}

// Frame returns the hub frame of the event.
func (ev ServerEvent) Frame() *Frame {
	return &Frame{Channel: ev.Key, Event: ev.Event, Data: []byte(ev.Data), ExceptClient: ev.ExceptSocket}
}

// Termination asks every node to close a user's connections to an app.
type Termination struct {
	AppID  string `json:"app_id"`
	UserID string `json:"user_id"`
}

// AppBus carries server events and terminations to every node.
// streams.AppBus (core NATS) is one. Safe for concurrent use.
type AppBus interface {
	// Publish sends ev to every node, this one included, at most once.
	Publish(ctx context.Context, ev ServerEvent) error
	// Terminate asks every node, this one included, to close the user's
	// connections to the app.
	Terminate(ctx context.Context, t Termination) error
	// Subscribe calls onEvent and onTerminate for what any node sends,
	// until stop is called.
	Subscribe(onEvent func(ServerEvent), onTerminate func(Termination)) (stop func(), err error)
}

// ChannelCache keeps the last event of every cache channel, cluster-wide,
// for a bounded time. streams.ChannelCache (a memory KV bucket with a TTL)
// is one.
type ChannelCache interface {
	// Put records ev as its channel's last event.
	Put(ctx context.Context, ev ServerEvent) error
	// Get returns the channel's last event, or nil when there is none.
	Get(ctx context.Context, key string) (*ServerEvent, error)
}

// DeliverServer publishes a relayed server event to this node's
// subscribers of its channel, except the excluded socket.
func (h *Hub) DeliverServer(ev ServerEvent) { h.Publish(ev.Frame()) }
