package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"parley/engine"
	"slices"
	"strings"
	"sync"
	"time"
)

// PresenceStore is the presence state shared by every node: leases that
// expire TTL after their last put. streams.Presence (a JetStream KV bucket
// with a TTL and limit markers) is one. Safe for concurrent use.
type PresenceStore interface {
	// Put creates or refreshes a lease.
	Put(ctx context.Context, l Lease, info json.RawMessage) error
	// Delete removes a lease now.
	Delete(ctx context.Context, l Lease) error
	// Watch calls fn for every live lease, then synced once, then fn for
	// every change (expiry included) until ctx ends. Calls come from one
	// goroutine.
	Watch(ctx context.Context, fn func(PresenceChange), synced func()) error
}

// PresenceConfig configures Presence.
type PresenceConfig struct {
	// TTL is how long a lease lives without a refresh (default 60s).
	TTL time.Duration
	// Holder names this node's socket leases; unique per process.
	Holder string
	// MaxMembers bounds the member list sent on subscribe (default 1000).
	MaxMembers int
	// OnTransition, when set, is told every member_added/member_removed;
	// local is true when this node's own lease change caused it (a lease
	// that expired is nobody's: t.Expired says so when the store announced
	// it, and every node sees it). Called with the tracker's lock held: it
	// must not block or call back into Presence.
	OnTransition func(t Transition, local bool)
	// Contacts, when set, scopes presence-messaging to contacts: a member
	// sees (in their member list and as member_added / member_removed) only
	// the users who share a conversation with them, and themselves. See
	// presence_contacts.go.
	Contacts ContactReader
	// Members, when set, answers a conversation's participants when its
	// membership changes, without a read.
	Members *engine.Members
	// MaxContacts bounds each user's contact set (default
	// DefaultMaxContacts).
	MaxContacts int
	Logger      *slog.Logger
}

// Presence tracks who is on each presence channel. Membership comes from
// one watcher on the shared store, so every node agrees; this node holds one
// lease per (channel, user) while any local socket of that user is
// subscribed, refreshed every TTL/3, and member_added / member_removed are
// published to the local hub when a user's first lease appears or last one
// goes.
type Presence struct {
	store  PresenceStore
	hub    *Hub
	cfg    PresenceConfig
	locks  keyLocks // serialise store writes per (channel, user)
	logger *slog.Logger
	scope  *contactScope // nil: presence-messaging is not scoped

	mu     sync.Mutex
	state  *presenceState
	local  map[leaseKey]int // local subscribed sockets per (channel, user)
	info   map[leaseKey]json.RawMessage
	synced chan struct{}
}

type leaseKey struct{ channel, user string }

// NewPresence returns a tracker; Run starts its watcher.
func NewPresence(store PresenceStore, hub *Hub, cfg PresenceConfig) *Presence {
	if cfg.TTL <= 0 {
		cfg.TTL = 60 * time.Second
	}
	if cfg.MaxMembers <= 0 {
		cfg.MaxMembers = 1000
	}
	if cfg.Holder == "" {
		cfg.Holder = "n" + strings.ReplaceAll(NewSocketID(), ".", "x")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("component", "presence")
	}
	return &Presence{store: store, hub: hub, cfg: cfg, logger: cfg.Logger, scope: newContactScope(cfg),
		state: newPresenceState(), local: map[leaseKey]int{}, info: map[leaseKey]json.RawMessage{},
		synced: make(chan struct{})}
}

// TTL is how long a lease lives without a refresh.
func (p *Presence) TTL() time.Duration { return p.cfg.TTL }

// Synced is closed once the watcher has loaded the store's current leases.
func (p *Presence) Synced() <-chan struct{} { return p.synced }

// Run watches the store, refreshes this node's leases and expires leases
// whose removal was missed, until ctx ends.
func (p *Presence) Run(ctx context.Context) error {
	go p.maintain(ctx)
	if p.scope != nil {
		go p.followContacts(ctx)
	}
	var once sync.Once
	for {
		err := p.store.Watch(ctx, p.apply, func() { once.Do(func() { close(p.synced) }) })
		if ctx.Err() != nil {
			return nil
		}
		p.logger.Warn("presence watch ended; restarting", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// grace is how long past its TTL a lease is kept when no removal arrives:
// the store announces expiry within about a second of the TTL.
func (p *Presence) grace() time.Duration { return p.cfg.TTL/2 + 2*time.Second }

func (p *Presence) apply(ch PresenceChange) {
	at := ch.At
	if now := time.Now(); at.IsZero() || at.After(now) {
		at = now
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.state.apply(ch, at.Add(p.cfg.TTL+p.grace())); ok {
		p.announce(t)
		if p.cfg.OnTransition != nil {
			t.Expired = ch.Expired
			p.cfg.OnTransition(t, ch.Lease.Holder == p.cfg.Holder && ch.Expired == 0)
		}
	}
}

// announce publishes a transition to the local subscribers of its channel,
// except the user's own sockets; on a channel scoped to contacts, only to
// those who hold the user as a contact. Called with p.mu held, so a
// subscriber's member list and the transitions it receives agree.
func (p *Presence) announce(t Transition) {
	f := transitionFrame(t)
	switch {
	case f == nil:
	case p.scoped(t.Channel):
		p.deliver(t.Member.UserID, f)
	default:
		p.hub.Publish(f)
	}
}

// transitionFrame is the member_added or member_removed frame of t.
func transitionFrame(t Transition) *Frame {
	ev, m := engine.EventMemberRemoved, Member{UserID: t.Member.UserID}
	if t.Joined {
		ev, m = engine.EventMemberAdded, t.Member
	}
	data, err := engine.Marshal(m)
	if err != nil {
		return nil
	}
	return &Frame{Channel: t.Channel, Event: ev, Data: data, ExceptUser: t.Member.UserID, Lazy: true}
}

// ownLive reports whether the lease is this node's and a local socket still
// holds it (p.mu held). Such a lease is never dropped by the sweep: this
// node knows it is live, and keeps refreshing it. Had its refresh round
// fallen behind (thousands of leases on a node too busy to write them in
// time), the sweep would announce members that are still connected as
// gone, to every member, and again as back once the refresh lands: in a
// 10,000-socket join storm that held p.mu for seconds and timed joins
// out. If the store did let the lease expire, its watcher says so.
func (p *Presence) ownLive(channel, user, holder string) bool {
	return holder == p.cfg.Holder && p.local[leaseKey{channel, user}] > 0
}

// maintain refreshes local leases every TTL/3 and sweeps expired ones.
func (p *Presence) maintain(ctx context.Context) {
	t := time.NewTicker(max(p.cfg.TTL/3, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		for _, tr := range p.state.expire(time.Now(), p.ownLive) {
			p.announce(tr)
			if p.cfg.OnTransition != nil {
				p.cfg.OnTransition(tr, false)
			}
		}
		keys := make([]leaseKey, 0, len(p.local))
		for k := range p.local {
			keys = append(keys, k)
		}
		p.mu.Unlock()
		p.refreshAll(ctx, keys)
	}
}

// refreshParallel bounds the lease refreshes in flight. One at a time, a
// round of thousands of leases could outlast the TTL when each put waits
// behind a busy node (3,331 puts took 58 s during a 5,000-socket join
// storm), and the leases it had not reached yet expired: every socket then
// got a member_removed and member_added for each, and the queues overflowed.
// 32 at a time still let a round of 10,000 leases fall behind in a
// 10,000-socket join storm; a round's time is its puts over this bound
// times one put's latency on a busy node.
const refreshParallel = 128

// refreshAll refreshes keys with at most refreshParallel puts in flight.
func (p *Presence) refreshAll(ctx context.Context, keys []leaseKey) {
	sem := make(chan struct{}, refreshParallel)
	var wg sync.WaitGroup
	for _, k := range keys {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p.refresh(ctx, k)
		}()
	}
	wg.Wait()
}

func (p *Presence) refresh(ctx context.Context, k leaseKey) {
	unlock, err := p.locks.lock(ctx, k)
	if err != nil {
		return // shutting down
	}
	defer unlock()
	p.mu.Lock()
	n, info := p.local[k], p.info[k]
	p.mu.Unlock()
	if n == 0 {
		return
	}
	if err := p.store.Put(ctx, Lease{Channel: k.channel, UserID: k.user, Holder: p.cfg.Holder}, info); err != nil && ctx.Err() == nil {
		p.logger.Warn("refresh presence lease", "channel", k.channel, "err", err)
	}
}

// Join subscribes c to a presence channel as member m. The member list
// (this user included) goes to ack, whose message is queued to c ahead of
// any member_added/member_removed that follows. A socket already on the
// channel gets ErrAlreadySubscribed.
func (p *Presence) Join(ctx context.Context, c *Client, channel string, m Member, ack func(members []Member) *Frame) error {
	k := leaseKey{channel, m.UserID}
	unlock, err := p.locks.lock(ctx, k)
	if err != nil {
		return fmt.Errorf("presence join: %w", err)
	}
	defer unlock()
	if p.hub.Subscribed(c, channel) {
		return ErrAlreadySubscribed
	}
	scoped := p.scoped(channel)
	var contacts []string
	var load *contactLoad
	if scoped {
		if contacts, load, err = p.joinContacts(ctx, m.UserID); err != nil {
			return fmt.Errorf("presence join: contacts: %w", err)
		}
		defer p.endLoad(m.UserID, load)
	}
	p.mu.Lock()
	first := p.local[k] == 0
	p.mu.Unlock()
	if first {
		if err := p.store.Put(ctx, Lease{Channel: channel, UserID: m.UserID, Holder: p.cfg.Holder}, m.Info); err != nil {
			return err
		}
	}
	p.mu.Lock()
	var members []Member
	if scoped {
		members = p.scopedJoin(c, m, contacts, load, p.cfg.MaxMembers)
	} else {
		members = withJoiner(p.state.members(channel, p.cfg.MaxMembers), m, p.cfg.MaxMembers)
	}
	err = p.hub.Subscribe(c, channel, ack(members))
	if err == nil {
		p.local[k]++
		p.info[k] = m.Info
	} else if scoped {
		p.scopedLeave(c)
	}
	p.mu.Unlock()
	if err != nil && first {
		p.release(ctx, k)
	}
	return err
}

// withJoiner adds m, the member joining, to members (sorted by user id, at
// most max) when the watcher has not applied their lease yet. The list
// stays sorted and at most max long, and always holds the joiner, whom
// Pusher clients look up as "me": past max it keeps the first max-1 and
// the joiner.
func withJoiner(members []Member, m Member, max int) []Member {
	i, found := slices.BinarySearchFunc(members, m.UserID, func(x Member, id string) int { return strings.Compare(x.UserID, id) })
	if found {
		return members
	}
	members = slices.Insert(members, i, m)
	if len(members) > max {
		if i < max {
			return members[:max]
		}
		return append(members[:max-1], m)
	}
	return members
}

// Leave unsubscribes c from a presence channel; the node's lease goes with
// the user's last local socket. Leaving a channel c is not on does nothing.
func (p *Presence) Leave(ctx context.Context, c *Client, channel string) {
	k := leaseKey{channel, c.UserID()}
	// The local state must follow the socket, however long the key's
	// write in progress takes (it is bounded by its own context).
	unlock, _ := p.locks.lock(context.WithoutCancel(ctx), k)
	defer unlock()
	if !p.hub.Unsubscribe(c, channel) {
		return
	}
	p.mu.Lock()
	if p.scoped(channel) {
		p.scopedLeave(c)
	}
	p.local[k]--
	last := p.local[k] <= 0
	if last {
		delete(p.local, k)
		delete(p.info, k)
	}
	p.mu.Unlock()
	if last {
		p.release(ctx, k)
	}
}

func (p *Presence) release(ctx context.Context, k leaseKey) {
	if err := p.store.Delete(ctx, Lease{Channel: k.channel, UserID: k.user, Holder: p.cfg.Holder}); err != nil && ctx.Err() == nil {
		p.logger.Warn("release presence lease", "channel", k.channel, "err", err)
	}
}

// Evict takes every local socket of the user off the channel, as when they
// leave the conversation it belongs to.
func (p *Presence) Evict(ctx context.Context, channel, userID string) {
	for _, c := range p.hub.ClientsOf(userID) {
		p.Leave(ctx, c, channel)
	}
}

// Heartbeat keeps the user online (presence-messaging) and, with a
// conversation id, viewing that conversation, for one TTL. The caller checks
// that the user may join those channels.
func (p *Presence) Heartbeat(ctx context.Context, userID string, info json.RawMessage, conversationID string) error {
	channels := []string{engine.PresenceMessaging}
	if conversationID != "" {
		channels = append(channels, engine.PresenceConversationChannel(conversationID))
	}
	var errs []error
	for _, ch := range channels {
		errs = append(errs, p.store.Put(ctx, Lease{Channel: ch, UserID: userID, Holder: HeartbeatHolder}, info))
	}
	return errors.Join(errs...)
}

// Members lists a channel's members (at most MaxMembers) and its size.
func (p *Presence) Members(channel string) ([]Member, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state.members(channel, p.cfg.MaxMembers), p.state.count(channel)
}

// MembersFor is the member list userID sees on the channel: on a channel
// scoped to contacts, their online contacts and themselves; elsewhere
// Members'.
func (p *Presence) MembersFor(channel, userID string) []Member {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.scoped(channel) {
		return p.scopedMembers(userID, p.cfg.MaxMembers)
	}
	return p.state.members(channel, p.cfg.MaxMembers)
}

// Online reports whether the user is a member of the channel.
func (p *Presence) Online(channel, userID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state.has(channel, userID)
}
