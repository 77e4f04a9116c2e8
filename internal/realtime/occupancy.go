package realtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Occupancy counts the subscriptions of application channels (and each
// app's connections) across every node. Each node keeps its own counts and
// writes them as leases in a shared store (the presence lease machinery in
// its own bucket: one key per channel and node, refreshed every TTL/3, its
// value the count); one watcher per node sums every node's leases, so every
// node answers the same counts. Writes are coalesced on one goroutine and
// never block a subscriber.
type Occupancy struct {
	store    PresenceStore
	cfg      OccupancyConfig
	onChange func(OccupancyChange)
	wake     chan struct{}
	synced   chan struct{}

	mu      sync.Mutex
	local   map[string]int                 // this node's count per key
	dirty   map[string]bool                // changed since the last flush; true: counted above zero meanwhile
	cluster map[string]map[string]occLease // key -> holder -> lease
}

type occLease struct {
	count  int
	expiry time.Time
}

// OccupancyConfig configures Occupancy.
type OccupancyConfig struct {
	// TTL is how long a node's count lives without a refresh (default 60s).
	TTL time.Duration
	// Holder names this node's leases; unique per process.
	Holder string
	Logger *slog.Logger
}

// OccupancyChange is a channel becoming occupied (its first subscription
// anywhere) or vacated (its last one gone). Local is true on the node whose
// own count change caused it, so exactly one node acts on it. A count that
// expired (its node stopped refreshing it) is nobody's: Expired is then the
// store's revision of the expiry, the same on every node.
type OccupancyChange struct {
	Key      string
	Occupied bool
	Local    bool
	Expired  uint64
}

// occupancyUser is the lease user of every occupancy lease.
const occupancyUser = "n"

// ConnectionsKey is the occupancy key that counts an app's connections
// ("" is the messaging app). '#' is not allowed in channel names.
func ConnectionsKey(appID string) string { return "#connections~" + appID }

// NewOccupancy returns a counter; Run starts its watcher and writer.
// onChange, when not nil, is called (on the watcher's goroutine) for every
// occupied/vacated transition.
func NewOccupancy(store PresenceStore, cfg OccupancyConfig, onChange func(OccupancyChange)) *Occupancy {
	if cfg.TTL <= 0 {
		cfg.TTL = 60 * time.Second
	}
	if cfg.Holder == "" {
		cfg.Holder = "n" + strings.ReplaceAll(NewSocketID(), ".", "x")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("component", "occupancy")
	}
	return &Occupancy{store: store, cfg: cfg, onChange: onChange, wake: make(chan struct{}, 1),
		synced: make(chan struct{}), local: map[string]int{}, dirty: map[string]bool{},
		cluster: map[string]map[string]occLease{}}
}

// Synced is closed once the watcher has loaded the store.
func (o *Occupancy) Synced() <-chan struct{} { return o.synced }

// Add changes this node's count of key by delta; the shared store follows
// shortly after, on Run's goroutine.
func (o *Occupancy) Add(key string, delta int) {
	o.mu.Lock()
	n := o.local[key] + delta
	if n <= 0 {
		delete(o.local, key)
	} else {
		o.local[key] = n
	}
	o.dirty[key] = o.dirty[key] || n > 0
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Count is the cluster-wide count of key.
func (o *Occupancy) Count(key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.count(key)
}

func (o *Occupancy) count(key string) int {
	n := 0
	for _, l := range o.cluster[key] {
		n += l.count
	}
	return n
}

// Keys lists the occupied keys that match, sorted, at most limit of them.
func (o *Occupancy) Keys(match func(key string) bool, limit int) []string {
	o.mu.Lock()
	var out []string
	for k := range o.cluster {
		if match(k) && o.count(k) > 0 {
			out = append(out, k)
		}
	}
	o.mu.Unlock()
	sort.Strings(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Run watches the store and writes this node's counts until ctx ends.
func (o *Occupancy) Run(ctx context.Context) error {
	go o.write(ctx)
	var once sync.Once
	for {
		err := o.store.Watch(ctx, o.apply, func() { once.Do(func() { close(o.synced) }) })
		if ctx.Err() != nil {
			return nil
		}
		o.cfg.Logger.Warn("occupancy watch ended; restarting", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (o *Occupancy) apply(ch PresenceChange) {
	key, holder := ch.Lease.Channel, ch.Lease.Holder
	o.mu.Lock()
	before := o.count(key)
	if ch.Online {
		n, _ := strconv.Atoi(string(ch.Info))
		hs := o.cluster[key]
		if hs == nil {
			hs = map[string]occLease{}
			o.cluster[key] = hs
		}
		hs[holder] = occLease{count: n, expiry: time.Now().Add(o.cfg.TTL + o.cfg.TTL/2 + 2*time.Second)}
	} else if hs := o.cluster[key]; hs != nil {
		delete(hs, holder)
		if len(hs) == 0 {
			delete(o.cluster, key)
		}
	}
	after := o.count(key)
	o.mu.Unlock()
	if o.onChange != nil && (before == 0) != (after == 0) {
		o.onChange(OccupancyChange{Key: key, Occupied: after > 0, Local: holder == o.cfg.Holder && ch.Expired == 0, Expired: ch.Expired})
	}
}

// write flushes changed counts as they come and refreshes every lease each
// TTL/3; it also drops leases of nodes that stopped refreshing them.
func (o *Occupancy) write(ctx context.Context) {
	t := time.NewTicker(max(o.cfg.TTL/3, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
			o.flush(ctx, false)
		case <-t.C:
			o.expire()
			o.flush(ctx, true)
		}
	}
}

func (o *Occupancy) flush(ctx context.Context, all bool) {
	o.mu.Lock()
	work := map[string]int{}
	var blips []string // counted and back to zero since the last flush
	for k, above := range o.dirty {
		work[k] = o.local[k]
		if above && work[k] == 0 {
			blips = append(blips, k)
		}
	}
	if all {
		for k, n := range o.local {
			work[k] = n
		}
	}
	o.dirty = map[string]bool{}
	o.mu.Unlock()
	// A subscription that came and went between two flushes is still
	// written, so every node sees the channel occupied and vacated.
	for _, k := range blips {
		o.put(ctx, k, 1)
	}
	for k, n := range work {
		o.put(ctx, k, n)
	}
}

// put writes this node's count of key (0 deletes its lease).
func (o *Occupancy) put(ctx context.Context, key string, n int) {
	l := Lease{Channel: key, UserID: occupancyUser, Holder: o.cfg.Holder}
	var err error
	if n > 0 {
		err = o.store.Put(ctx, l, json.RawMessage(strconv.Itoa(n)))
	} else {
		err = o.store.Delete(ctx, l)
	}
	if err != nil && ctx.Err() == nil {
		o.cfg.Logger.Warn("occupancy write", "key", key, "err", err)
	}
}

// expire drops leases past their expiry: the fallback for a removal the
// watcher missed (a node that died).
func (o *Occupancy) expire() {
	now := time.Now()
	var changes []OccupancyChange
	o.mu.Lock()
	for k, hs := range o.cluster {
		for h, l := range hs {
			if l.expiry.Before(now) {
				delete(hs, h)
			}
		}
		if len(hs) == 0 {
			delete(o.cluster, k)
			changes = append(changes, OccupancyChange{Key: k})
		}
	}
	o.mu.Unlock()
	for _, c := range changes {
		if o.onChange != nil {
			o.onChange(c)
		}
	}
}
