package pusher

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"parley/engine"
	"parley/internal/realtime"
)

// Application channels on a socket: public channels need nothing,
// private- and presence- channels a signature by the app's secret (made by
// the application's own auth endpoint; Parley checks only the signature),
// and cache channels replay their last event on subscribe.

const evCacheMiss = "pusher:cache_miss"

// appChannelData is presence channel_data as applications sign it: the
// user id may be a string or a number (Laravel's integer ids).
type appChannelData struct {
	UserID   json.RawMessage `json:"user_id"`
	UserInfo json.RawMessage `json:"user_info,omitempty"`
}

// userID returns the user id as a string, or "" when it is neither a
// string nor a number.
func (d appChannelData) userID() string {
	raw := bytes.TrimSpace(d.UserID)
	if len(raw) == 0 {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return ""
	}
	return n.String()
}

// subscribeApp subscribes the socket to an application channel.
func (w *wsConn) subscribeApp(ctx context.Context, ch engine.Channel, req subscribeData) {
	key := realtime.AppChannelKey(w.ns, ch.Name)
	var member realtime.Member
	if ch.Private() {
		if !verifyAuth(w.app.Key, []byte(w.app.Secret), req.Auth, w.client.ID(), req.Channel, req.ChannelData) {
			w.subscriptionError(ch.Name, http.StatusForbidden, "invalid signature for this socket and channel")
			return
		}
		if req.ChannelData != "" {
			var cd appChannelData
			if json.Unmarshal([]byte(req.ChannelData), &cd) != nil || !engine.ValidUserID(cd.userID()) {
				w.subscriptionError(ch.Name, http.StatusBadRequest, "channel_data must hold a user_id (a string or a number)")
				return
			}
			member = realtime.Member{UserID: cd.userID(), Info: cd.UserInfo}
			if !w.bind(ch.Name, member.UserID) {
				return
			}
		}
	}
	if ch.Presence() {
		if member.UserID == "" {
			w.subscriptionError(ch.Name, http.StatusBadRequest, "presence channels need channel_data with user_id")
			return
		}
		ack := func(members []realtime.Member) *realtime.Frame { return presenceAck(ch.Name, members) }
		jctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := w.rt.Presence.Join(jctx, w.client, key, member, ack)
		cancel()
		if err != nil {
			if errors.Is(err, realtime.ErrAlreadySubscribed) {
				members, _ := w.rt.Presence.Members(key)
				w.client.Send(presenceAck(ch.Name, members))
				return
			}
			w.subscribeFailed(ch.Name, err, nil)
			return
		}
		w.presence.add(key)
	} else {
		ack := control(evSubscriptionSucceeded, ch.Name, struct{}{})
		if err := w.rt.Hub.Subscribe(w.client, key, ack); err != nil {
			w.subscribeFailed(ch.Name, err, ack)
			return
		}
	}
	w.count(key)
	if realtime.IsCacheChannel(ch.Name) {
		w.replayCache(ctx, key, ch.Name)
	}
}

// count adds the subscription to the cluster-wide occupancy.
func (w *wsConn) count(key string) {
	if w.rt.Occupancy != nil && !w.counted.has(key) {
		w.counted.add(key)
		w.rt.Occupancy.Add(key, 1)
	}
}

func (w *wsConn) uncount(key string) {
	w.counted.remove(key)
	if w.rt.Occupancy != nil {
		w.rt.Occupancy.Add(key, -1)
	}
}

// replayCache sends a cache channel's last event to this socket, or
// pusher:cache_miss when there is none.
func (w *wsConn) replayCache(ctx context.Context, key, name string) {
	var ev *realtime.ServerEvent
	if w.rt.Cache != nil {
		gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var err error
		ev, err = w.rt.Cache.Get(gctx, key)
		cancel()
		if err != nil {
			w.s.logger.Warn("cache channel get", "channel", name, "err", err)
		}
	}
	if ev == nil {
		w.client.Send(&realtime.Frame{Channel: name, Event: evCacheMiss})
		return
	}
	w.client.Send(&realtime.Frame{Channel: name, Event: ev.Event, Data: []byte(ev.Data)})
}

// appClientEvent relays a client event on an application channel, as
// Pusher allows them: on private and presence channels the socket is
// subscribed to, data passed on as sent, the sender's user_id on the frame
// for presence channels; never back to the sender.
func (w *wsConn) appClientEvent(ctx context.Context, ch engine.Channel, f *pusherIn) {
	if !ch.Private() {
		w.client.Send(errorFrame(pusherUnauthorized, "client events are only allowed on private and presence channels"))
		return
	}
	if strings.HasPrefix(ch.Name, "private-encrypted-") {
		w.client.Send(errorFrame(pusherUnauthorized, "client events are not allowed on encrypted channels"))
		return
	}
	key := realtime.AppChannelKey(w.ns, ch.Name)
	if !w.rt.Hub.Subscribed(w.client, key) {
		w.client.Send(errorFrame(pusherUnauthorized, "client event rejected: not subscribed to "+ch.Name))
		return
	}
	if len(f.Event) > 200 {
		w.client.Send(errorFrame(pusherReconnect, "client event rejected: event names are at most 200 characters"))
		return
	}
	if !w.allow() {
		w.client.Send(errorFrame(pusherClientRateLimit, fmt.Sprintf("client event rejected: more than %g per second", w.rt.ClientEventsPerSecond)))
		return
	}
	data := bytes.TrimSpace(f.Data)
	if len(data) == 0 {
		data = []byte("{}")
	}
	user := ""
	if ch.Presence() {
		user = w.client.UserID()
	}
	w.s.Relay(ctx, realtime.ClientEvent{Channel: key, Event: f.Event, Data: data, UserID: user, SocketID: w.client.ID()})
	if w.rt.Hooks.Wants(w.app.ID) {
		w.rt.Hooks.Enqueue(w.app.ID, realtime.AppHookEvent{Name: realtime.HookClientEvent, Channel: ch.Name,
			Event: f.Event, Data: string(f.payload()), SocketID: w.client.ID(), UserID: user})
	}
}
