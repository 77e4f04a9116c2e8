package node

import (
	"context"
	"hash/fnv"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"parley/engine"
	"parley/internal/pusher/apps"
	"parley/internal/realtime"
	"parley/streams"
)

// appHooks turns presence transitions and occupancy changes on application
// channels into Pusher webhooks, on the node that caused them. A change no
// node caused (a crashed node's leases expiring) is seen by every node;
// each offers it to orphans, and the node whose claim wins sends it, if it
// still holds then (the channel still vacant, the member still gone).
type appHooks struct {
	reg     *apps.Registry
	hooks   *realtime.AppWebhooks
	holder  string              // this node, written into the claims it makes
	members *realtime.Presence  // set before the watchers run
	counts  *realtime.Occupancy // set before the watchers run
	orphans chan orphanHook
	dropped atomic.Uint64 // orphans not sent: the queue was full or the claim failed
	logger  *slog.Logger
}

// orphanHook is a webhook of a change no node caused, and the cluster-wide
// claim whose winner sends it.
type orphanHook struct {
	claim string
	appID string
	ev    realtime.AppHookEvent
	key   string // the presence channel or occupancy key
}

// Bounds of the orphan webhooks: how many wait for their claim (a node
// that crashed with more members and channels than that loses the rest
// of their webhooks, counted and logged), and how many claims run at once.
const (
	orphanQueue    = 4096
	orphanClaimers = 16
)

func newAppHooks(reg *apps.Registry, hooks *realtime.AppWebhooks, holder string, logger *slog.Logger) *appHooks {
	return &appHooks{reg: reg, hooks: hooks, holder: holder, orphans: make(chan orphanHook, orphanQueue), logger: logger}
}

// send enqueues ev when this node caused the change, or offers it for a
// claim when no node did (claim != ""); the watchers call it, with the
// presence lock held, so it never blocks.
func (h *appHooks) send(appID string, ev realtime.AppHookEvent, local bool, claim, key string) {
	switch {
	case !h.hooks.Wants(appID):
	case local:
		h.hooks.Enqueue(appID, ev)
	case claim != "":
		select {
		case h.orphans <- orphanHook{claim: claim, appID: appID, ev: ev, key: key}:
		default:
			h.dropped.Add(1)
		}
	}
}

// runOrphans claims the offered webhooks, orphanClaimers at a time, and
// sends those this node won, until ctx ends. Orphans not sent are logged
// once a minute at most.
func (h *appHooks) runOrphans(ctx context.Context, claims *streams.Claims) {
	var wg sync.WaitGroup
	for range orphanClaimers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case o := <-h.orphans:
					h.claim(ctx, claims, o)
				}
			}
		})
	}
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	var told uint64
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
		}
		if n := h.dropped.Load(); n != told {
			h.logger.Warn("app webhooks of expired leases not sent (queue full or claim failed)", "since_start", n)
			told = n
		}
	}
}

// claim sends o if this node wins its claim and the change still holds.
func (h *appHooks) claim(ctx context.Context, claims *streams.Claims, o orphanHook) {
	won, err := claims.Claim(ctx, o.claim, h.holder)
	if err != nil {
		if ctx.Err() == nil {
			h.dropped.Add(1)
		}
		return
	}
	if !won {
		return
	}
	switch o.ev.Name { // a later join on a live node made it stale
	case realtime.HookMemberRemoved:
		if h.members.Online(o.key, o.ev.UserID) {
			return
		}
	case realtime.HookChannelVacated:
		if h.counts.Count(o.key) > 0 {
			return
		}
	}
	h.hooks.Enqueue(o.appID, o.ev)
}

func (h *appHooks) presence(t realtime.Transition, local bool) {
	if !local && t.Expired == 0 {
		return // another node's change: that node sends it
	}
	ns, name := realtime.SplitChannelKey(t.Channel)
	if ch, err := engine.ParseChannel(name); err != nil || (ns == "" && realtime.IsParleyChannel(ch)) {
		return
	}
	ev := realtime.AppHookEvent{Name: realtime.HookMemberRemoved, Channel: name, UserID: t.Member.UserID}
	if t.Joined {
		ev.Name = realtime.HookMemberAdded
	}
	h.send(appID(h.reg, ns), ev, local, expiryClaim("presence", t.Expired, t.Channel, t.Member.UserID), t.Channel)
}

// expiryClaim names the claim of the webhook of the expiry at revision rev
// of a bucket ("" when rev is 0: not an expiry). The lease's channel and
// user are in it too, hashed: a bucket made anew counts revisions from 1
// again while older claims live on.
func expiryClaim(bucket string, rev uint64, channel, user string) string {
	if rev == 0 {
		return ""
	}
	f := fnv.New64a()
	f.Write([]byte(channel))
	f.Write([]byte{0})
	f.Write([]byte(user))
	return bucket + "." + strconv.FormatUint(rev, 10) + "." + strconv.FormatUint(f.Sum64(), 36)
}

func (h *appHooks) occupancy(c realtime.OccupancyChange) {
	if (!c.Local && c.Expired == 0) || strings.HasPrefix(c.Key, "#") {
		return
	}
	ns, name := realtime.SplitChannelKey(c.Key)
	ev := realtime.AppHookEvent{Name: realtime.HookChannelVacated, Channel: name}
	if c.Occupied {
		ev.Name = realtime.HookChannelOccupied
	}
	h.send(appID(h.reg, ns), ev, c.Local, expiryClaim("occupancy", c.Expired, c.Key, ""), c.Key)
}
