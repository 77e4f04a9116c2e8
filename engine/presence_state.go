package engine

import (
	"encoding/json"
	"sort"
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
	channels map[string]map[string]*memberState
}

type memberState struct {
	info    json.RawMessage
	holders map[string]time.Time // holder -> expiry
}

func newPresenceState() *presenceState {
	return &presenceState{channels: map[string]map[string]*memberState{}}
}

// apply records a change; it returns the transition it causes, if any.
// expiry is when the lease lapses if nothing refreshes or removes it.
func (s *presenceState) apply(ch PresenceChange, expiry time.Time) (Transition, bool) {
	l := ch.Lease
	users := s.channels[l.Channel]
	m := users[l.UserID]
	if ch.Online {
		if users == nil {
			users = map[string]*memberState{}
			s.channels[l.Channel] = users
		}
		joined := m == nil
		if joined {
			m = &memberState{holders: map[string]time.Time{}}
			users[l.UserID] = m
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
	delete(users, userID)
	if len(users) == 0 {
		delete(s.channels, channel)
	}
	return Transition{Channel: channel, Member: Member{UserID: userID}}
}

// expire drops the leases whose expiry is before now: the fallback for a
// removal the store's watcher missed.
func (s *presenceState) expire(now time.Time) []Transition {
	var out []Transition
	for channel, users := range s.channels {
		for user, m := range users {
			for h, exp := range m.holders {
				if exp.Before(now) {
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
	out := make([]Member, 0, min(len(users), max))
	for id, m := range users {
		out = append(out, Member{UserID: id, Info: m.info})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	if len(out) > max {
		out = out[:max]
	}
	return out
}

// has reports whether the user is a member of the channel.
func (s *presenceState) has(channel, userID string) bool {
	_, ok := s.channels[channel][userID]
	return ok
}

// count is the number of members of a channel.
func (s *presenceState) count(channel string) int { return len(s.channels[channel]) }
