package realtime

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"parley/engine"
)

// Presence on presence-messaging is scoped to contacts: a member's list and
// the member_added / member_removed it hears cover only the users who share
// a conversation with them (their contacts), and themselves. Each user with
// a local socket on the channel holds their contact set, read once when
// they join; an index from each contact back to the local users who hold
// them lets a transition reach exactly the sockets that care, so a join or
// leave costs O(the user's contacts) and never walks the channel's
// subscribers. Membership changes (presence_contacts_follow.go) re-read the
// contact sets they touch and announce the difference.

// ContactReader answers who shares a conversation with a user.
// projections.DB is one.
type ContactReader interface {
	// Contacts lists at most limit users who share at least one
	// conversation with userID (userID itself excluded), in any order; a
	// user with more than limit gets those of their most recently active
	// conversations.
	Contacts(ctx context.Context, userID string, limit int) ([]string, error)
	// ParticipantIDs lists a conversation's participants.
	ParticipantIDs(ctx context.Context, conversationID string) ([]string, error)
}

// DefaultMaxContacts bounds a user's contact set on presence-messaging: a
// user with more contacts sees the presence of those of their most recently
// active conversations.
const DefaultMaxContacts = 1000

// contactScope is the scoped channel's per-node state. Fields marked so are
// guarded by the Presence's mu, which also guards the membership state, so
// a member list and the transitions that follow it always agree.
type contactScope struct {
	channel string
	reader  ContactReader
	members *engine.Members
	max     int
	logger  *slog.Logger

	users    map[string]*scopedUser              // p.mu: local users on the channel
	watchers map[string]map[*scopedUser]struct{} // p.mu: contact -> local users holding them
	loading  map[string]*contactLoad             // p.mu: joins reading their contacts
	active   atomic.Int64                        // len(users)+len(loading), read without p.mu

	qmu    sync.Mutex
	queue  []engine.Event // membership changes to follow
	reload []string       // users whose contact set must be read again
	resync bool           // the queue overflowed: read every local user's again
	wake   chan struct{}
}

// scopedUser is a local user on the scoped channel: their contacts (sorted
// by id) and their sockets on the channel.
type scopedUser struct {
	id       string
	contacts []string
	clients  []*Client
}

// contactLoad marks a join reading its contacts; stale says a membership
// change touched the user meanwhile, so the set read may be out of date.
// ended is set (by the joining goroutine, under p.mu) once it is no longer
// listed.
type contactLoad struct{ stale, ended bool }

func newContactScope(cfg PresenceConfig) *contactScope {
	if cfg.Contacts == nil {
		return nil
	}
	if cfg.MaxContacts <= 0 {
		cfg.MaxContacts = DefaultMaxContacts
	}
	return &contactScope{channel: engine.PresenceMessaging, reader: cfg.Contacts, members: cfg.Members,
		max: cfg.MaxContacts, logger: cfg.Logger,
		users: map[string]*scopedUser{}, watchers: map[string]map[*scopedUser]struct{}{},
		loading: map[string]*contactLoad{}, wake: make(chan struct{}, 1)}
}

// scoped reports whether channel's presence is scoped to contacts.
func (p *Presence) scoped(channel string) bool { return p.scope != nil && channel == p.scope.channel }

// count updates active (p.mu held).
func (s *contactScope) count() { s.active.Store(int64(len(s.users) + len(s.loading))) }

// joinContacts returns the contacts of a user about to join the scoped
// channel: those their other local sockets hold, or read from the reader.
// The returned load must be ended with endLoad once the user is registered
// (or the join failed); meanwhile a membership change that touches the
// user marks it stale.
func (p *Presence) joinContacts(ctx context.Context, userID string) ([]string, *contactLoad, error) {
	s := p.scope
	ld := &contactLoad{}
	p.mu.Lock()
	s.loading[userID] = ld // joins of one user on a node are serialised by the key lock
	s.count()
	u := s.users[userID]
	p.mu.Unlock()
	if u != nil {
		return u.contacts, ld, nil
	}
	ids, err := s.read(ctx, userID)
	if err != nil {
		p.endLoad(userID, ld)
		return nil, nil, err
	}
	return ids, ld, nil
}

// read reads a user's contacts, sorted by id.
func (s *contactScope) read(ctx context.Context, userID string) ([]string, error) {
	ids, err := s.reader.Contacts(ctx, userID, s.max)
	if err != nil {
		return nil, err
	}
	ids = slices.DeleteFunc(ids, func(id string) bool { return id == userID })
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// endLoad ends a join's contact read, unless scopedJoin did.
func (p *Presence) endLoad(userID string, ld *contactLoad) {
	if ld.ended {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.scope.unlist(userID, ld)
}

// unlist removes a join's contact read from loading (p.mu held).
func (s *contactScope) unlist(userID string, ld *contactLoad) {
	ld.ended = true
	if s.loading[userID] == ld {
		delete(s.loading, userID)
		s.count()
	}
}

// scopedJoin registers c, a socket of m's user, on the scoped channel (with
// the contacts joinContacts read, unless another socket registered the user
// meanwhile) and returns the member list the socket gets: its online
// contacts and the joiner, sorted by id, at most max (p.mu held; the caller
// removes c again with scopedLeave if the hub refuses the subscription).
func (p *Presence) scopedJoin(c *Client, m Member, contacts []string, ld *contactLoad, max int) []Member {
	s := p.scope
	u := s.users[m.UserID]
	if u == nil {
		u = &scopedUser{id: m.UserID, contacts: contacts}
		s.users[m.UserID] = u
		s.index(u)
	}
	s.unlist(m.UserID, ld) // counts the user
	if ld.stale {
		// A membership change touched the user while their contacts were
		// read (or taken from another socket): read them again now that
		// they are registered.
		ld.stale = false
		s.follow(nil, m.UserID)
	}
	u.clients = append(u.clients, c)
	members := make([]Member, 0, min(len(u.contacts), max)+1)
	for _, id := range u.contacts {
		if cm, ok := p.state.member(s.channel, id); ok {
			members = append(members, cm)
		}
	}
	return withJoiner(members, m, max)
}

// scopedLeave takes c off the scoped channel; the user's contact set goes
// with their last local socket (p.mu held).
func (p *Presence) scopedLeave(c *Client) {
	s := p.scope
	u := s.users[c.UserID()]
	if u == nil {
		return
	}
	u.clients = slices.DeleteFunc(u.clients, func(x *Client) bool { return x == c })
	if len(u.clients) == 0 {
		s.unindex(u)
		delete(s.users, u.id)
		s.count()
	}
}

// scopedMembers is the member list user sees on the scoped channel (p.mu
// held): their online contacts and themselves when online.
func (p *Presence) scopedMembers(userID string, max int) []Member {
	s := p.scope
	var out []Member
	if u := s.users[userID]; u != nil {
		for _, id := range u.contacts {
			if m, ok := p.state.member(s.channel, id); ok {
				out = append(out, m)
			}
		}
	}
	if self, ok := p.state.member(s.channel, userID); ok {
		out = withJoiner(out, self, max)
	}
	if out == nil {
		out = []Member{}
	}
	return out[:min(len(out), max)]
}

// index adds u to the watchers of each of its contacts.
func (s *contactScope) index(u *scopedUser) {
	for _, id := range u.contacts {
		s.watch(id, u)
	}
}

// unindex removes u from the watchers of each of its contacts.
func (s *contactScope) unindex(u *scopedUser) {
	for _, id := range u.contacts {
		s.unwatch(id, u)
	}
}

func (s *contactScope) watch(id string, u *scopedUser) {
	ws := s.watchers[id]
	if ws == nil {
		ws = map[*scopedUser]struct{}{}
		s.watchers[id] = ws
	}
	ws[u] = struct{}{}
}

func (s *contactScope) unwatch(id string, u *scopedUser) {
	if ws := s.watchers[id]; ws != nil {
		delete(ws, u)
		if len(ws) == 0 {
			delete(s.watchers, id)
		}
	}
}

// deliver queues f, a transition of user on the scoped channel, to the
// local sockets of the users who hold user as a contact (p.mu held).
func (p *Presence) deliver(user string, f *Frame) {
	p.hub.published.Add(1)
	n := 0
	for u := range p.scope.watchers[user] {
		n += offerAll(u.clients, f)
	}
	p.hub.delivered.Add(uint64(n))
}

// offerAll queues f to each client and returns how many took it.
func offerAll(clients []*Client, f *Frame) int {
	n := 0
	for _, c := range clients {
		if c.offer(f) {
			n++
		}
	}
	return n
}

// setContacts replaces u's contacts with ids (sorted) and tells u's
// sockets about the online users who came or went (p.mu held).
func (p *Presence) setContacts(u *scopedUser, ids []string) {
	s := p.scope
	old := u.contacts
	i, j := 0, 0
	for i < len(old) || j < len(ids) {
		switch {
		case j == len(ids) || i < len(old) && old[i] < ids[j]: // gone
			s.unwatch(old[i], u)
			if p.state.has(s.channel, old[i]) {
				p.tell(u, Transition{Channel: s.channel, Member: Member{UserID: old[i]}})
			}
			i++
		case i == len(old) || ids[j] < old[i]: // new
			s.watch(ids[j], u)
			if m, ok := p.state.member(s.channel, ids[j]); ok {
				p.tell(u, Transition{Channel: s.channel, Member: m, Joined: true})
			}
			j++
		default:
			i++
			j++
		}
	}
	u.contacts = ids
}

// tell queues a transition to one user's sockets on the scoped channel.
func (p *Presence) tell(u *scopedUser, t Transition) {
	if f := transitionFrame(t); f != nil {
		p.hub.published.Add(1)
		p.hub.delivered.Add(uint64(offerAll(u.clients, f)))
	}
}

// member returns a channel's member by id.
func (s *presenceState) member(channel, userID string) (Member, bool) {
	users := s.channels[channel]
	if users == nil {
		return Member{}, false
	}
	m := users.byID[userID]
	if m == nil {
		return Member{}, false
	}
	return Member{UserID: userID, Info: m.info}, true
}
