package pusher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"parley/engine"
	"parley/internal/realtime"
)

type subscribeData struct {
	Channel     string `json:"channel"`
	Auth        string `json:"auth"`
	ChannelData string `json:"channel_data"`
}

// subscribe handles pusher:subscribe. A refused subscription gets a
// pusher:subscription_error on its channel, which Echo's .error() receives.
func (w *wsConn) subscribe(ctx context.Context, payload json.RawMessage) {
	var req subscribeData
	if err := json.Unmarshal(payload, &req); err != nil {
		w.client.Send(errorFrame(pusherReconnect, "malformed message: pusher:subscribe needs {channel, auth?, channel_data?}"))
		return
	}
	ch, err := engine.ParseChannel(req.Channel)
	if err != nil {
		w.subscriptionError(req.Channel, http.StatusBadRequest, "invalid channel name")
		return
	}
	if !w.app.Messaging || !realtime.IsParleyChannel(ch) {
		w.subscribeApp(ctx, ch, req)
		return
	}
	var who ChannelData
	if ch.Private() {
		if !verifyAuth(w.rt.AppKey, w.rt.AppSecret, req.Auth, w.client.ID(), req.Channel, req.ChannelData) {
			w.subscriptionError(req.Channel, http.StatusForbidden, "invalid signature for this socket and channel; get one from /broadcasting/auth")
			return
		}
		if req.ChannelData != "" {
			if json.Unmarshal([]byte(req.ChannelData), &who) != nil || !engine.ValidUserID(who.UserID) {
				w.subscriptionError(req.Channel, http.StatusBadRequest, "channel_data must hold a valid user_id")
				return
			}
			if !w.bind(req.Channel, who.UserID) {
				return
			}
		}
	}
	// A signature never expires, so membership of a conversation's channels
	// is checked again here: a participant removed since signing is refused.
	if ch.ConversationID != "" {
		if who.UserID == "" {
			w.subscriptionError(req.Channel, http.StatusForbidden, "conversation channels need the channel_data that /broadcasting/auth returns")
			return
		}
		if !w.member(ctx, ch, who.UserID) {
			return
		}
	}
	if ch.Presence() {
		w.joinPresence(ctx, ch, who)
		return
	}
	ack := control(evSubscriptionSucceeded, ch.Name, struct{}{})
	if err := w.rt.Hub.Subscribe(w.client, ch.Name, ack); err != nil {
		w.subscribeFailed(ch.Name, err, ack)
		return
	}
	// Checked once more after subscribing: a removal committed after the
	// first check either shows here or reaches this subscription through
	// the projector's hand-off, which unsubscribes removed users.
	if ch.ConversationID != "" && !w.member(ctx, ch, who.UserID) {
		w.rt.Hub.Unsubscribe(w.client, ch.Name)
	}
}

// member reports whether user is a participant of the channel's
// conversation, answering the subscription with an error when not.
func (w *wsConn) member(ctx context.Context, ch engine.Channel, user string) bool {
	ok, err := w.s.svc.IsParticipant(ctx, ch.ConversationID, user)
	switch {
	case err != nil: // catching up, the log unreachable, or a failed read
		w.subscriptionError(ch.Name, http.StatusServiceUnavailable, "membership could not be checked; retry")
		return false
	case !ok:
		w.subscriptionError(ch.Name, http.StatusForbidden, "not a participant of this conversation")
		return false
	}
	return true
}

// bind ties the socket to the signed user; a socket serves one user.
func (w *wsConn) bind(channel, userID string) bool {
	err := w.rt.Hub.BindUser(w.client, userID)
	switch {
	case err == nil:
		return true
	case errors.Is(err, realtime.ErrUserMismatch):
		w.subscriptionError(channel, http.StatusForbidden, "this connection is already bound to another user")
	default:
		w.subscriptionError(channel, http.StatusTooManyRequests, "too many connections for this user")
		w.fail(pusherCode(err), "over quota: too many connections for this user")
	}
	return false
}

func (w *wsConn) joinPresence(ctx context.Context, ch engine.Channel, who ChannelData) {
	if who.UserID == "" {
		w.subscriptionError(ch.Name, http.StatusBadRequest, "presence channels need channel_data with user_id")
		return
	}
	ack := func(members []realtime.Member) *realtime.Frame { return presenceAck(ch.Name, members) }
	jctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := w.rt.Presence.Join(jctx, w.client, ch.Name, realtime.Member{UserID: who.UserID, Info: who.UserInfo}, ack)
	if err != nil {
		if errors.Is(err, realtime.ErrAlreadySubscribed) {
			w.client.Send(presenceAck(ch.Name, w.rt.Presence.MembersFor(ch.Name, who.UserID)))
			return
		}
		w.subscribeFailed(ch.Name, err, nil)
		return
	}
	w.presence.add(ch.Name)
}

// presenceAck is subscription_succeeded with Pusher's presence data
// ({"presence":{"ids":[...],"hash":{id:info},"count":n}}), written
// directly in the members' order: encoding a map of up to 1,000 members
// sorts its keys, once per join.
func presenceAck(channel string, members []realtime.Member) *realtime.Frame {
	type entry struct{ id, info []byte } // the id as a JSON string
	seen := make(map[string]struct{}, len(members))
	kept := make([]entry, 0, len(members))
	for _, m := range members {
		if _, dup := seen[m.UserID]; dup {
			continue
		}
		seen[m.UserID] = struct{}{}
		id, _ := engine.Marshal(m.UserID)
		info := []byte(m.Info)
		if len(info) == 0 || !json.Valid(info) {
			info = []byte("null")
		}
		kept = append(kept, entry{id, info})
	}
	b := make([]byte, 0, 48+len(kept)*64)
	b = append(b, `{"presence":{"ids":[`...)
	for i, e := range kept {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e.id...)
	}
	b = append(b, `],"hash":{`...)
	for i, e := range kept {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(append(append(b, e.id...), ':'), e.info...)
	}
	b = append(b, `},"count":`...)
	b = strconv.AppendInt(b, int64(len(kept)), 10)
	b = append(b, "}}"...)
	return &realtime.Frame{Event: evSubscriptionSucceeded, Channel: channel, Data: b}
}

func (w *wsConn) subscribeFailed(channel string, err error, ack *realtime.Frame) {
	switch {
	case errors.Is(err, realtime.ErrAlreadySubscribed):
		if ack != nil {
			w.client.Send(ack)
		}
	case errors.Is(err, realtime.ErrTooManyChannels):
		w.subscriptionError(channel, http.StatusTooManyRequests, fmt.Sprintf("at most %d subscriptions per connection", w.rt.Hub.Config().MaxChannels))
	default:
		w.s.logger.Warn("subscribe", "channel", channel, "err", err)
		w.subscriptionError(channel, http.StatusServiceUnavailable, "subscription failed; retry")
	}
}

func (w *wsConn) subscriptionError(channel string, status int, msg string) {
	w.client.Send(control(evSubscriptionError, channel, subscriptionError{Type: "AuthError", Error: msg, Status: status}))
}

func (w *wsConn) unsubscribe(ctx context.Context, payload json.RawMessage) {
	var req subscribeData
	if json.Unmarshal(payload, &req) != nil {
		return
	}
	key := realtime.AppChannelKey(w.ns, req.Channel)
	if w.presence.remove(key) {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		w.rt.Presence.Leave(lctx, w.client, key)
		cancel()
	} else {
		w.rt.Hub.Unsubscribe(w.client, key)
	}
	if w.counted.has(key) {
		w.uncount(key)
	}
}

// clientEvent relays a client- event to the channel's other subscribers,
// on every node, with the sender's user_id added.
func (w *wsConn) clientEvent(ctx context.Context, f *pusherIn) {
	if ch, err := engine.ParseChannel(f.Channel); err == nil && (!w.app.Messaging || !realtime.IsParleyChannel(ch)) {
		w.appClientEvent(ctx, ch, f)
		return
	}
	if !strings.HasPrefix(f.Channel, "private-") && !strings.HasPrefix(f.Channel, "presence-") {
		w.client.Send(errorFrame(pusherUnauthorized, "client events are only allowed on private and presence channels"))
		return
	}
	// The global presence channel and a user's own channel have no one to
	// whisper to: a client event there would reach everyone online.
	if ch, err := engine.ParseChannel(f.Channel); err == nil && (ch.Kind == engine.ChannelPresenceMessaging || ch.Kind == engine.ChannelUser) {
		w.client.Send(errorFrame(pusherUnauthorized, "client events are not allowed on "+f.Channel))
		return
	}
	if !w.rt.Hub.Subscribed(w.client, f.Channel) {
		w.client.Send(errorFrame(pusherUnauthorized, "client event rejected: not subscribed to "+f.Channel))
		return
	}
	user := w.client.UserID()
	if user == "" {
		w.client.Send(errorFrame(pusherUnauthorized, "client event rejected: the subscription carries no user"))
		return
	}
	if !w.allow() {
		w.client.Send(errorFrame(pusherClientRateLimit, fmt.Sprintf("client event rejected: more than %g per second", w.rt.ClientEventsPerSecond)))
		return
	}
	data, ok := realtime.WithUserID(f.payload(), user)
	if !ok {
		w.client.Send(errorFrame(pusherReconnect, "malformed message: client event data must be a JSON object"))
		return
	}
	w.s.Relay(ctx, realtime.ClientEvent{Channel: f.Channel, Event: f.Event, Data: data, UserID: user, SocketID: w.client.ID()})
}
