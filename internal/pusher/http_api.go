package pusher

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"parley/engine"
	"parley/internal/pusher/apps"
	"parley/internal/realtime"
)

// The Pusher server HTTP API, as Reverb serves it: every request is signed
// with the app's secret (pusher_sign.go) and belongs to the app its path
// names.

// Pusher HTTP API limits.
const (
	MaxEventChannels  = 100 // channels of one event
	MaxBatchEvents    = 10  // events of one batch
	MaxEventNameBytes = 200
	// MaxChannelsListed bounds GET /apps/{id}/channels.
	MaxChannelsListed = 10000
)

// Errors of the Pusher HTTP API.
var (
	errPusherAppNotFound   = engine.Errorf(engine.KindNotFound, "app_not_found", "no app with this id")
	errPusherNameRequired  = engine.Errorf(engine.KindMalformed, "name_required", "name is required: 1-%d characters, not starting with pusher:", MaxEventNameBytes)
	errPusherDataRequired  = engine.Errorf(engine.KindMalformed, "data_required", "data is required (a string)")
	errPusherNoChannels    = engine.Errorf(engine.KindMalformed, "channels_required", "channels (1-%d names) or channel is required", MaxEventChannels)
	errPusherTooMany       = engine.Errorf(engine.KindMalformed, "too_many_channels", "an event goes to at most %d channels", MaxEventChannels)
	errPusherBadChannel    = engine.Errorf(engine.KindMalformed, "invalid_channel", "channel names are 1-%d characters of A-Z a-z 0-9 _ - = @ , . ;", engine.MaxChannelNameLen)
	errPusherBadSocket     = engine.Errorf(engine.KindMalformed, "invalid_socket_id", "socket_id must look like 123.456")
	errPusherBatchRequired = engine.Errorf(engine.KindMalformed, "batch_required", "batch is required: 1-%d events", MaxBatchEvents)
	errPusherBatchTooLarge = engine.Errorf(engine.KindMalformed, "batch_too_large", "a batch holds at most %d events", MaxBatchEvents)
	errPusherNotPresence   = engine.Errorf(engine.KindMalformed, "not_presence_channel", "users are listed for presence channels only")
	errPusherUserCount     = engine.Errorf(engine.KindMalformed, "invalid_info", "user_count is only available for presence channels")
	errPusherBadUser       = engine.Errorf(engine.KindMalformed, "invalid_user_id", "user ids are 1-128 characters of A-Z a-z 0-9 _ - = @ , . ;")
	errPusherMalformed     = engine.Errorf(engine.KindMalformed, "malformed_json", "the request body is not valid JSON")
	ErrPublish             = engine.Errorf(engine.KindUnavailable, "publish_failed", "the event could not be handed to the cluster; retry")
)

// Call is a verified request of the Pusher HTTP API: the app its path
// names, its (bounded) body, and its path parameters.
type Call struct {
	App     *apps.App
	Body    []byte
	Request *http.Request
	// Param returns a path parameter ("channel", "user_id").
	Param func(name string) string
}

// pusherBodyLimit bounds a request body: a full batch of events at the
// data limit, with room for JSON escaping and channel names.
func (s *Server) pusherBodyLimit() int64 {
	return int64(MaxBatchEvents*2*s.rt.MaxEventData + 64<<10)
}

// Verify finds the app of appID, reads the (bounded) body and verifies the
// request's signature: what every HTTP API route does before its handler.
func (s *Server) Verify(rw http.ResponseWriter, r *http.Request, appID string) (*Call, error) {
	app := s.rt.Apps.ByID(appID)
	if app == nil {
		return nil, errPusherAppNotFound
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, s.pusherBodyLimit()))
	if err != nil {
		return nil, engine.Errorf(engine.KindTooLarge, "request_too_large", "request bodies are limited to %d bytes", s.pusherBodyLimit())
	}
	if err := verifyPusherRequest(app, r.Method, r.URL.Path, r.URL.Query(), body, time.Now()); err != nil {
		return nil, err
	}
	return &Call{App: app, Body: body, Request: r}, nil
}

// pusherEvent is one event of POST events or of a batch.
type pusherEvent struct {
	Name     string          `json:"name"`
	Data     json.RawMessage `json:"data"`
	Channels []string        `json:"channels"`
	Channel  string          `json:"channel"`
	SocketID string          `json:"socket_id"`
	Info     string          `json:"info"`
}

// pusherBatch is the body of POST batch_events.
type pusherBatch struct {
	Batch []pusherEvent `json:"batch"`
}

// checked is a validated event, ready to publish.
type checked struct {
	name, data, socket string
	channels           []engine.Channel
	info               string
}

// check validates an event: name, data (a string; other JSON is taken as
// its text) within the data limit, 1-100 valid channels, socket_id.
func (s *Server) check(ev pusherEvent) (checked, error) {
	out := checked{name: ev.Name, socket: ev.SocketID, info: ev.Info}
	if ev.Name == "" || len(ev.Name) > MaxEventNameBytes || strings.HasPrefix(ev.Name, "pusher:") || strings.HasPrefix(ev.Name, "pusher_internal:") {
		return out, errPusherNameRequired
	}
	raw := bytes.TrimSpace(ev.Data)
	if len(raw) == 0 || string(raw) == "null" {
		return out, errPusherDataRequired
	}
	out.data = string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &out.data); err != nil {
			return out, errPusherDataRequired
		}
	}
	if len(out.data) > s.rt.MaxEventData {
		return out, engine.Errorf(engine.KindTooLarge, "data_too_large", "event data is limited to %d bytes; this is %d", s.rt.MaxEventData, len(out.data))
	}
	names := ev.Channels
	if len(names) == 0 && ev.Channel != "" {
		names = []string{ev.Channel}
	}
	if len(names) == 0 {
		return out, errPusherNoChannels
	}
	if len(names) > MaxEventChannels {
		return out, errPusherTooMany
	}
	for _, n := range names {
		ch, err := engine.ParseChannel(n)
		if err != nil {
			return out, errPusherBadChannel
		}
		out.channels = append(out.channels, ch)
	}
	if ev.SocketID != "" && !ValidSocketID(ev.SocketID) {
		return out, errPusherBadSocket
	}
	return out, nil
}

// Events serves POST /apps/{app_id}/events.
func (s *Server) Events(call *Call) (any, error) {
	var ev pusherEvent
	if err := json.Unmarshal(call.Body, &ev); err != nil {
		return nil, errPusherMalformed
	}
	app := call.App
	chk, err := s.check(ev)
	if err != nil {
		return nil, err
	}
	if err := s.publishApp(call.Request.Context(), app, chk); err != nil {
		return nil, err
	}
	if chk.info == "" {
		return struct{}{}, nil
	}
	infos := map[string]channelInfo{}
	for _, ch := range chk.channels {
		infos[ch.Name] = s.channelInfo(app, ch, chk.info)
	}
	return map[string]any{"channels": infos}, nil
}

// BatchEvents serves POST /apps/{app_id}/batch_events: every event
// is checked before any is published.
func (s *Server) BatchEvents(call *Call) (any, error) {
	var b pusherBatch
	if err := json.Unmarshal(call.Body, &b); err != nil {
		return nil, errPusherMalformed
	}
	if len(b.Batch) == 0 {
		return nil, errPusherBatchRequired
	}
	if len(b.Batch) > MaxBatchEvents {
		return nil, errPusherBatchTooLarge
	}
	app := call.App
	all := make([]checked, 0, len(b.Batch))
	for _, ev := range b.Batch {
		chk, err := s.check(ev)
		if err != nil {
			return nil, err
		}
		all = append(all, chk)
	}
	infos, anyInfo := make([]channelInfo, 0, len(all)), false
	for _, chk := range all {
		if err := s.publishApp(call.Request.Context(), app, chk); err != nil {
			return nil, err
		}
		var info channelInfo
		if chk.info != "" {
			anyInfo = true
			info = s.channelInfo(app, chk.channels[0], chk.info)
		}
		infos = append(infos, info)
	}
	if !anyInfo {
		return map[string]any{"batch": struct{}{}}, nil
	}
	return map[string]any{"batch": infos}, nil
}

// publishApp sends an event to its channels on every node; a cache
// channel's event is stored first, so a subscriber that misses it live
// finds it in the cache.
func (s *Server) publishApp(ctx context.Context, app *apps.App, chk checked) error {
	ns := appNamespace(app)
	for _, ch := range chk.channels {
		ev := realtime.ServerEvent{Key: realtime.AppChannelKey(ns, ch.Name), Event: chk.name, Data: chk.data, ExceptSocket: chk.socket}
		if s.rt.Cache != nil && realtime.IsCacheChannel(ch.Name) {
			if err := s.rt.Cache.Put(ctx, ev); err != nil {
				s.logger.Warn("cache channel put", "channel", ch.Name, "err", err)
			}
		}
		if s.rt.Bus == nil {
			s.rt.Hub.DeliverServer(ev)
			continue
		}
		if err := s.rt.Bus.Publish(ctx, ev); err != nil {
			s.logger.Warn("app bus publish", "channel", ch.Name, "err", err)
			return ErrPublish
		}
	}
	return nil
}
