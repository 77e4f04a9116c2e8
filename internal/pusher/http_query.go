package pusher

import (
	"strings"

	"parley/engine"
	"parley/internal/pusher/apps"
	"parley/internal/realtime"
)

// channelInfo is what the Pusher HTTP API tells about one channel; counts
// are cluster-wide.
type channelInfo struct {
	Occupied          *bool `json:"occupied,omitempty"`
	UserCount         *int  `json:"user_count,omitempty"`
	SubscriptionCount *int  `json:"subscription_count,omitempty"`
}

// infoFields parses an info parameter ("user_count,subscription_count").
func infoFields(info string) map[string]bool {
	out := map[string]bool{}
	for _, f := range strings.Split(info, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out[f] = true
		}
	}
	return out
}

// subscriptions is the cluster-wide number of subscriptions to a hub key.
func (s *Server) subscriptions(key string) int {
	if s.rt.Occupancy != nil {
		return s.rt.Occupancy.Count(key)
	}
	if s.rt.Hub.Has(key) {
		return 1
	}
	return 0
}

// channelInfo answers the info fields asked for one channel:
// subscription_count for any channel, user_count for presence channels.
func (s *Server) channelInfo(app *apps.App, ch engine.Channel, info string) channelInfo {
	key := realtime.AppChannelKey(appNamespace(app), ch.Name)
	f := infoFields(info)
	var out channelInfo
	if f["subscription_count"] {
		n := s.subscriptions(key)
		out.SubscriptionCount = &n
	}
	if f["user_count"] && ch.Presence() {
		n := s.rt.Presence.Count(key)
		out.UserCount = &n
	}
	if f["occupied"] {
		occ := s.subscriptions(key) > 0
		out.Occupied = &occ
	}
	return out
}

// Channels serves GET /apps/{app_id}/channels: the occupied
// application channels (Parley's own are not listed), filter_by_prefix,
// info=user_count (presence channels) and subscription_count.
func (s *Server) Channels(call *Call) (any, error) {
	app := call.App
	q := call.Request.URL.Query()
	prefix, info := q.Get("filter_by_prefix"), q.Get("info")
	if infoFields(info)["user_count"] && !strings.HasPrefix(prefix, "presence-") {
		return nil, errPusherUserCount
	}
	ns := appNamespace(app)
	out := map[string]channelInfo{}
	if s.rt.Occupancy != nil {
		keys := s.rt.Occupancy.Keys(func(key string) bool {
			id, name := realtime.SplitChannelKey(key)
			return id == ns && !strings.HasPrefix(key, "#") && strings.HasPrefix(name, prefix)
		}, MaxChannelsListed)
		for _, key := range keys {
			name := realtime.ChannelName(key)
			ch, err := engine.ParseChannel(name)
			if err != nil {
				continue
			}
			out[name] = s.channelInfo(app, ch, info)
		}
	}
	return map[string]any{"channels": out}, nil
}

// Channel serves GET /apps/{app_id}/channels/{channel}: occupied,
// and the info fields asked for.
func (s *Server) Channel(call *Call) (any, error) {
	ch, err := engine.ParseChannel(call.Param("channel"))
	if err != nil {
		return nil, errPusherBadChannel
	}
	info := call.Request.URL.Query().Get("info")
	if infoFields(info)["user_count"] && !ch.Presence() {
		return nil, errPusherUserCount
	}
	return s.channelInfo(call.App, ch, info+",occupied"), nil
}

// pusherUser is one entry of GET .../users.
type pusherUser struct {
	ID string `json:"id"`
}

// Users serves GET /apps/{app_id}/channels/{channel}/users: the
// members of a presence channel across every node (at most the presence
// member limit).
func (s *Server) Users(call *Call) (any, error) {
	ch, err := engine.ParseChannel(call.Param("channel"))
	if err != nil {
		return nil, errPusherBadChannel
	}
	if !ch.Presence() {
		return nil, errPusherNotPresence
	}
	members, _ := s.rt.Presence.Members(realtime.AppChannelKey(appNamespace(call.App), ch.Name))
	users := make([]pusherUser, 0, len(members))
	for _, m := range members {
		users = append(users, pusherUser{ID: m.UserID})
	}
	return map[string]any{"users": users}, nil
}

// Connections serves GET /apps/{app_id}/connections: the app's
// WebSocket connections across every node.
func (s *Server) Connections(call *Call) (any, error) {
	n := 0
	if s.rt.Occupancy != nil {
		n = s.rt.Occupancy.Count(realtime.ConnectionsKey(appNamespace(call.App)))
	}
	return map[string]int{"connections": n}, nil
}

// Terminate serves POST /apps/{app_id}/users/{user_id}/terminate_connections:
// every node closes the user's sockets of this app (code 4009).
func (s *Server) Terminate(call *Call) (any, error) {
	user := call.Param("user_id")
	if !engine.ValidUserID(user) {
		return nil, errPusherBadUser
	}
	t := realtime.Termination{AppID: appNamespace(call.App), UserID: user}
	if s.rt.Bus == nil {
		s.rt.Hub.Terminate(t.AppID, t.UserID)
	} else if err := s.rt.Bus.Terminate(call.Request.Context(), t); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}
