package realtime

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"parley/engine"
	"sync"
	"sync/atomic"
	"time"
)

// HubConfig bounds the hub; zero values take the defaults.
type HubConfig struct {
	// Buffer is each client's outbound queue in messages (default 256).
	Buffer int
	// MaxClients bounds the connections of this node (default 10,000).
	MaxClients int
	// MaxClientsPerUser bounds one user's connections on this node (default 32).
	MaxClientsPerUser int
	// MaxChannels bounds one client's subscriptions (default 100).
	MaxChannels int
	// LazyFlush bounds how long a lazy frame waits for its client's
	// transport to be woken (default DefaultLazyFlush; negative: at once).
	LazyFlush time.Duration
}

// Hub defaults.
const (
	DefaultHubBuffer         = 256
	DefaultMaxClients        = 10000
	DefaultMaxClientsPerUser = 32
	DefaultMaxChannels       = 100
)

func (c HubConfig) withDefaults() HubConfig {
	if c.Buffer <= 0 {
		c.Buffer = DefaultHubBuffer
	}
	if c.MaxClients <= 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.MaxClientsPerUser <= 0 {
		c.MaxClientsPerUser = DefaultMaxClientsPerUser
	}
	if c.MaxChannels <= 0 {
		c.MaxChannels = DefaultMaxChannels
	}
	if c.LazyFlush == 0 {
		c.LazyFlush = DefaultLazyFlush
	}
	return c
}

// Hub errors.
var (
	ErrOverCapacity      = engine.Errorf(engine.KindUnavailable, "over_capacity", "this node has no room for another connection")
	ErrOverQuota         = engine.Errorf(engine.KindRateLimited, "over_quota", "this user has too many connections")
	ErrTooManyChannels   = engine.Errorf(engine.KindRateLimited, "too_many_channels", "this connection has too many subscriptions")
	ErrAlreadySubscribed = engine.Errorf(engine.KindConflict, "already_subscribed", "already subscribed to this channel")
	ErrUserMismatch      = engine.Errorf(engine.KindForbidden, "user_mismatch", "this connection belongs to another user")
)

const hubShards = 32

type hubShard struct {
	mu       sync.RWMutex
	channels map[string]map[*Client]struct{}
}

// Hub routes messages to the subscribers of each channel on this node. Every
// client has a bounded queue; Publish never blocks on a client, it drops the
// ones whose queue is full. Channels are sharded so that publishing on one
// does not contend with subscribing to another. Safe for concurrent use.
type Hub struct {
	cfg    HubConfig
	seed   maphash.Seed
	shards [hubShards]hubShard

	mu      sync.Mutex
	clients map[*Client]struct{}
	users   map[string]map[*Client]struct{}
	closed  bool

	lazy lazyNotify

	published atomic.Uint64
	delivered atomic.Uint64
	slowDrops atomic.Uint64
}

// NewHub returns an empty hub.
func NewHub(cfg HubConfig) *Hub {
	h := &Hub{cfg: cfg.withDefaults(), seed: maphash.MakeSeed(),
		clients: map[*Client]struct{}{}, users: map[string]map[*Client]struct{}{}}
	for i := range h.shards {
		h.shards[i].channels = map[string]map[*Client]struct{}{}
	}
	return h
}

// Config returns the hub's limits.
func (h *Hub) Config() HubConfig { return h.cfg }

func (h *Hub) shard(channel string) *hubShard {
	return &h.shards[maphash.String(h.seed, channel)%hubShards]
}

// NewSocketID returns a Pusher-style socket id ("123.456").
func NewSocketID() string { return fmt.Sprintf("%d.%d", rand.Uint32(), rand.Uint32()) }

// Connect registers a new client of the messaging app, or returns
// ErrOverCapacity.
func (h *Hub) Connect() (*Client, error) { return h.ConnectApp("") }

// ConnectApp registers a new client of an app ("" is the messaging app), or
// returns ErrOverCapacity.
func (h *Hub) ConnectApp(appID string) (*Client, error) {
	c := newClient(h, appID, h.cfg.Buffer)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || len(h.clients) >= h.cfg.MaxClients {
		return nil, ErrOverCapacity
	}
	h.clients[c] = struct{}{}
	return c, nil
}

// BindUser records which user a client belongs to. A client belongs to one
// user for its life: another user is ErrUserMismatch; a user over their
// connection quota is ErrOverQuota.
func (h *Hub) BindUser(c *Client, userID string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cur := c.UserID(); cur != "" {
		if cur != userID {
			return ErrUserMismatch
		}
		return nil
	}
	if _, ok := h.clients[c]; !ok {
		return ErrOverCapacity
	}
	uk := userKey(c.app, userID)
	set := h.users[uk]
	if len(set) >= h.cfg.MaxClientsPerUser {
		return ErrOverQuota
	}
	if set == nil {
		set = map[*Client]struct{}{}
		h.users[uk] = set
	}
	set[c] = struct{}{}
	c.user.Store(&userID)
	return nil
}

// Subscribe adds c to channel. ack, when not nil, is queued to c in the same
// step, so it reaches the client before anything published on the channel
// afterwards (a subscription_succeeded frame).
func (h *Hub) Subscribe(c *Client, channel string, ack *Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.channels[channel]; ok {
		return ErrAlreadySubscribed
	}
	if len(c.channels) >= h.cfg.MaxChannels {
		return ErrTooManyChannels
	}
	c.channels[channel] = struct{}{}
	s := h.shard(channel)
	s.mu.Lock()
	subs := s.channels[channel]
	if subs == nil {
		subs = map[*Client]struct{}{}
		s.channels[channel] = subs
	}
	subs[c] = struct{}{}
	if ack != nil {
		c.offer(ack)
	}
	s.mu.Unlock()
	return nil
}

// Unsubscribe removes c from channel and reports whether it was subscribed.
func (h *Hub) Unsubscribe(c *Client, channel string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.channels[channel]; !ok {
		return false
	}
	delete(c.channels, channel)
	h.removeFromChannel(c, channel)
	return true
}

func (h *Hub) removeFromChannel(c *Client, channel string) {
	s := h.shard(channel)
	s.mu.Lock()
	if subs := s.channels[channel]; subs != nil {
		delete(subs, c)
		if len(subs) == 0 {
			delete(s.channels, channel)
		}
	}
	s.mu.Unlock()
}

// Subscribed reports whether c is subscribed to channel.
func (h *Hub) Subscribed(c *Client, channel string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.channels[channel]
	return ok
}

// Has reports whether anyone on this node is subscribed to channel.
func (h *Hub) Has(channel string) bool {
	s := h.shard(channel)
	s.mu.RLock()
	n := len(s.channels[channel])
	s.mu.RUnlock()
	return n > 0
}

// Publish queues m to every subscriber of m.Channel and returns how many
// took it. It never waits: a subscriber whose queue is full is dropped.
func (h *Hub) Publish(m *Frame) int {
	h.published.Add(1)
	s := h.shard(m.Channel)
	n := 0
	s.mu.RLock()
	for c := range s.channels[m.Channel] {
		if !c.skips(m) && c.offer(m) {
			n++
		}
	}
	s.mu.RUnlock()
	h.delivered.Add(uint64(n))
	return n
}

// Disconnect removes c from every channel and from the hub, and ends it.
// Its queue is released with it.
func (h *Hub) Disconnect(c *Client) {
	c.drop(ReasonClosed)
	c.mu.Lock()
	for ch := range c.channels {
		h.removeFromChannel(c, ch)
	}
	c.channels = map[string]struct{}{}
	c.mu.Unlock()
	h.mu.Lock()
	delete(h.clients, c)
	if u := c.UserID(); u != "" {
		uk := userKey(c.app, u)
		if set := h.users[uk]; set != nil {
			delete(set, c)
			if len(set) == 0 {
				delete(h.users, uk)
			}
		}
	}
	h.mu.Unlock()
}

// userKey is the key of an app's user in h.users: the same user id on two
// apps is two users, so apps share neither the per-user quota nor a
// user's client list.
func userKey(appID, userID string) string { return AppChannelKey(appID, userID) }

// ClientsOf returns the messaging app user's clients on this node.
func (h *Hub) ClientsOf(userID string) []*Client { return h.clientsOf("", userID) }

func (h *Hub) clientsOf(appID, userID string) []*Client {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.users[userKey(appID, userID)]
	out := make([]*Client, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	return out
}

// Terminate ends every client of the user on the app ("" is the messaging
// app) with ReasonTerminated and returns how many there were.
func (h *Hub) Terminate(appID, userID string) int {
	cs := h.clientsOf(appID, userID)
	for _, c := range cs {
		c.drop(ReasonTerminated)
	}
	return len(cs)
}

// UnsubscribeUser removes every client of the user from the channels, as
// when they leave a conversation.
func (h *Hub) UnsubscribeUser(userID string, channels ...string) {
	for _, c := range h.ClientsOf(userID) {
		for _, ch := range channels {
			h.Unsubscribe(c, ch)
		}
	}
}

// Close drops every client with ReasonShutdown and refuses new ones.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	all := make([]*Client, 0, len(h.clients))
	for c := range h.clients {
		all = append(all, c)
	}
	h.mu.Unlock()
	for _, c := range all {
		c.drop(ReasonShutdown)
	}
}

// Connections is the number of clients on this node.
func (h *Hub) Connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// HubStats are the hub's counters.
type HubStats struct {
	Connections int    `json:"connections"`
	Users       int    `json:"users"`
	Channels    int    `json:"channels"`
	Published   uint64 `json:"published"`
	Delivered   uint64 `json:"delivered"`
	SlowDrops   uint64 `json:"slow_consumer_drops"`
}

// Stats returns the current counters.
func (h *Hub) Stats() HubStats {
	h.mu.Lock()
	st := HubStats{Connections: len(h.clients), Users: len(h.users)}
	h.mu.Unlock()
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.RLock()
		st.Channels += len(s.channels)
		s.mu.RUnlock()
	}
	st.Published, st.Delivered, st.SlowDrops = h.published.Load(), h.delivered.Load(), h.slowDrops.Load()
	return st
}
