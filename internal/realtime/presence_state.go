package realtime

import (
	"encoding/json"
	"slices"
	"time"
)

// Lease is one reason a user is present on a presence channel: a node with
// a live socket of theirs subscribed (Holder is the node's id), or their
// REST heartbeat (Holder is HeartbeatHolder). A user is a member while any
// lease of theirs on the channel lives.
type Lease struct {
	Channel string
	UserID  string
	Holder  string
}

// HeartbeatHolder holds the leases that REST heartbeats keep alive; every
// node refreshes the same one.
const HeartbeatHolder = "hb"

// Member is one user on a presence channel, as Pusher's presence data
// shows them.
type Member struct {
	UserID string          `json:"user_id"`
	Info   json.RawMessage `json:"user_info,omitempty"`
}

// PresenceChange is a lease put or removed in the shared presence store.
type PresenceChange struct {
	Lease  Lease
	Info   json.RawMessage
	Online bool
	// At is when the store wrote it; leases expire TTL after.
	At time.Time
	// Expired is the store's revision of the expiry that removed the lease,
	// or 0: no holder removed it (its node stopped refreshing it, most
	// likely because it crashed), so no node caused the change.
	Expired uint64
}

// Transition is a user joining or leaving a presence channel.
type Transition struct {
	Channel string
	Member  Member
	Joined  bool
	// Expired is the PresenceChange's Expired when a lease's expiry removed
	// the member.
	Expired uint64
}

// presenceState is the membership of every presence channel, derived from
// lease changes. It is pure: no clock, no I/O.
type presenceState struct {
	channels map[string]*channelMembers
}

// channelMembers is one channel's members, with their ids kept sorted: the
// member list sent on subscribe is the first MaxMembers of them, taken
// without sorting the whole channel on every join (a join storm on a
// 10,000-member channel spent a sixth of the server's CPU in that sort).
type channelMembers struct {
	byID   map[string]*memberState
	sorted []string
}

type memberState struct {
	info    json.RawMessage
	holders map[string]time.Time // holder -> expiry
}

func newPresenceState() *presenceState {
	return &presenceState{channels: map[string]*channelMembers{}}
}

// apply records a change; it returns the transition it causes, if any.
// expiry is when the lease lapses if nothing refreshes or removes it.
func (s *presenceState) apply(ch PresenceChange, expiry time.Time) (Transition, bool) {
	l := ch.Lease
	users := s.channels[l.Channel]
	var m *memberState
	if users != nil {
		m = users.byID[l.UserID]
	}
	if ch.Online {
		if users == nil {
			users = &channelMembers{byID: map[string]*memberState{}}
			s.channels[l.Channel] = users
		}
		joined := m == nil
		if joined {
			m = &memberState{holders: map[string]time.Time{}}
			users.byID[l.UserID] = m
			i, _ := slices.BinarySearch(users.sorted, l.UserID)
			users.sorted = slices.Insert(users.sorted, i, l.UserID)
		}
		if len(ch.Info) > 0 {
			m.info = ch.Info
		}
		m.holders[l.Holder] = expiry
		return Transition{Channel: l.Channel, Member: Member{UserID: l.UserID, Info: m.info}, Joined: true}, joined
	}
	if m == nil {
		return Transition{}, false
	}
	if _, ok := m.holders[l.Holder]; !ok {
		return Transition{}, false
	}
	delete(m.holders, l.Holder)
	if len(m.holders) > 0 {
		return Transition{}, false
	}
	return s.remove(l.Channel, l.UserID), true
}

func (s *presenceState) remove(channel, userID string) Transition {
	users := s.channels[channel]
	delete(users.byID, userID)
	if i, ok := slices.BinarySearch(users.sorted, userID); ok {
		users.sorted = slices.Delete(users.sorted, i, i+1)
	}
	if len(users.byID) == 0 {
		delete(s.channels, channel)
	}
	return Transition{Channel: channel, Member: Member{UserID: userID}}
}

// expire drops the leases whose expiry is before now, except those keep
// says to keep: the fallback for a removal the store's watcher missed.
func (s *presenceState) expire(now time.Time, keep func(channel, user, holder string) bool) []Transition {
	var out []Transition
	for channel, users := range s.channels {
		for user, m := range users.byID {
			for h, exp := range m.holders {
				if exp.Before(now) && !keep(channel, user, h) {
					delete(m.holders, h)
				}
			}
			if len(m.holders) == 0 {
				out = append(out, s.remove(channel, user))
			}
		}
	}
	return out
}

// members lists a channel's members sorted by user id, at most max of them.
func (s *presenceState) members(channel string, max int) []Member {
	users := s.channels[channel]
	if users == nil {
		return []Member{}
	}
	ids := users.sorted[:min(len(users.sorted), max)]
	out := make([]Member, len(ids))
	for i, id := range ids {
		out[i] = Member{UserID: id, Info: users.byID[id].info}
	}
	return out
}

// has reports whether the user is a member of the channel.
func (s *presenceState) has(channel, userID string) bool {
	users := s.channels[channel]
	if users == nil {
		return false
	}
	_, ok := users.byID[userID]
	return ok
}

// count is the number of members of a channel.
func (s *presenceState) count(channel string) int {
	if users := s.channels[channel]; users != nil {
		return len(users.byID)
	}
	return 0
}
