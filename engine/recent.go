package engine

import (
	"cmp"

	json "github.com/goccy/go-json"
	"slices"
	"sync"
	"sync/atomic"
)

// RecentEvents keeps the latest events of recently active conversations in
// memory, as this node's projector applied them, so a reconnecting client's
// delta is answered without reading the log. It is fed every applied batch
// in order; a conversation's entry knows since which sequence it holds every
// event of that conversation, and a delta outside what it holds reads the
// log as before. Memory is bounded: at most RecentPerConversation events per
// conversation and RecentMaxEvents in all (the least recently fed
// conversations are dropped first).
type RecentEvents struct {
	mu    sync.Mutex
	convs map[string]*recentConv
	total int
	upto  uint64 // every applied event up to here was fed; 0 before the first batch
	tick  uint64

	hits, misses atomic.Uint64
}

// RecentStats counts the deltas answered from memory and from the log.
type RecentStats struct {
	Hits   uint64 `json:"hits"`
	Misses uint64 `json:"misses"`
}

// Stats returns the cache's counters.
func (r *RecentEvents) Stats() RecentStats {
	return RecentStats{Hits: r.hits.Load(), Misses: r.misses.Load()}
}

// Bounds of RecentEvents.
const (
	RecentPerConversation = 256
	RecentMaxEvents       = 50000

	// recentConvCap is how far a conversation may grow past
	// RecentPerConversation before its oldest events are dropped.
	recentConvCap = RecentPerConversation * 5 / 4
)

type recentConv struct {
	evs   []recentEvent // ascending sequence
	since uint64        // every event of the conversation after since is in evs (up to upto)
	used  uint64        // tick of the last feed
}

type recentEvent struct {
	ev        Event
	skipped   bool
	wire      *WireEvent // Wire(ev), made when a delta first needs it
	raw       []byte     // the JSON of wire, made with it
	deletedAt string     // for a message.sent: when a later event deleted the message
}

// NewRecentEvents returns an empty cache.
func NewRecentEvents() *RecentEvents {
	return &RecentEvents{convs: map[string]*recentConv{}}
}

// Feed records an applied batch: the events with from < seq <= last, in
// order, and which of them the projector rejected. A batch that does not
// start where the previous one ended (a projector restarted on another
// database) empties the cache first.
func (r *RecentEvents) Feed(from, last uint64, events []Event, skipped []uint64) {
	if last <= from {
		return
	}
	rejected := make(map[uint64]bool, len(skipped))
	for _, s := range skipped {
		rejected[s] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.upto != from {
		r.convs, r.total = map[string]*recentConv{}, 0
	}
	r.tick++
	for _, ev := range events {
		if ev.Seq <= from || ev.Seq > last || ev.ConversationID == "" || ev.Type.Private() {
			continue
		}
		c := r.convs[ev.ConversationID]
		if c == nil {
			// Every event of this conversation after from is in this batch
			// or a later one.
			c = &recentConv{since: from}
			r.convs[ev.ConversationID] = c
		}
		c.used = r.tick
		if ev.Type == MessageDeleted && !rejected[ev.Seq] {
			c.markDeleted(ev)
		}
		c.evs = append(c.evs, recentEvent{ev: ev, skipped: rejected[ev.Seq]})
		r.total++
		if len(c.evs) > recentConvCap {
			// Drop the oldest quarter at once: one copy per 64 events.
			drop := len(c.evs) - RecentPerConversation
			c.since = c.evs[drop-1].ev.Seq
			c.evs = append(c.evs[:0:0], c.evs[drop:]...)
			r.total -= drop
		}
	}
	r.upto = last
	if r.total > RecentMaxEvents {
		r.evict()
	}
}

// Reset forgets everything; the next batch starts the cache again.
func (r *RecentEvents) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.convs, r.total, r.upto = map[string]*recentConv{}, 0, 0
}

// markDeleted records an accepted message.deleted on the message it
// deleted, when the conversation's list still holds it.
func (c *recentConv) markDeleted(ev Event) {
	var d MessageDeletedData
	if json.Unmarshal(ev.Data, &d) != nil {
		return
	}
	for i := range c.evs {
		e := &c.evs[i]
		if e.ev.Type == MessageSent && !e.skipped && e.ev.ID.String() == d.MessageID {
			e.deletedAt = FormatTime(ev.At)
			return
		}
	}
}

// MessageSeq returns the sequence of a message of the conversation that the
// cache holds (accepted message.sent events only).
func (r *RecentEvents) MessageSeq(conversationID, messageID string) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.convs[conversationID]
	if c == nil {
		return 0, false
	}
	for i := len(c.evs) - 1; i >= 0; i-- {
		e := &c.evs[i]
		if e.ev.Type == MessageSent && !e.skipped && e.ev.ID.String() == messageID {
			return e.ev.Seq, true
		}
	}
	return 0, false
}

// Outcome says what the projector did with the conversation's event at seq
// (accepted or rejected) and, for an accepted message.sent, whether a later
// event deleted the message; known is false when the cache does not hold
// the event.
func (r *RecentEvents) Outcome(conversationID string, seq uint64) (accepted, deleted, known bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.convs[conversationID]
	if c == nil || seq <= c.since || seq > r.upto {
		return false, false, false
	}
	i, found := slices.BinarySearchFunc(c.evs, seq, func(e recentEvent, s uint64) int { return cmp.Compare(e.ev.Seq, s) })
	if !found {
		return false, false, false
	}
	e := &c.evs[i]
	return !e.skipped, e.deletedAt != "", true
}

// evict drops the least recently fed conversations until the cache holds
// at most 90 % of RecentMaxEvents.
func (r *RecentEvents) evict() {
	for _, id := range leastRecentFirst(r.convs, func(c *recentConv) uint64 { return c.used }) {
		if r.total <= RecentMaxEvents*9/10 {
			return
		}
		r.total -= len(r.convs[id].evs)
		delete(r.convs, id)
	}
}

// CachedWire is an event's wire form and its JSON as an answer encodes it,
// both shared with the memory: read-only.
type CachedWire struct {
	Wire *WireEvent
	JSON []byte
}

// Events returns the wire forms (with their JSON) of the conversation's
// events with after < seq <= to, at most max of them, the sequences among
// them that the projector rejected and the messages among them deleted since
// (id to deletion time; both maps nil when empty); ok is false when the
// cache does not hold all of them.
func (r *RecentEvents) Events(conversationID string, after, to uint64, max int) (wires []CachedWire, skipped map[uint64]bool, deleted map[string]string, ok bool) {
	return r.AppendEvents(nil, conversationID, after, to, max)
}

// AppendEvents is Events appending the wire forms to dst (returned as is
// when ok is false).
func (r *RecentEvents) AppendEvents(dst []CachedWire, conversationID string, after, to uint64, max int) (wires []CachedWire, skipped map[uint64]bool, deleted map[string]string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.convs[conversationID]
	if c == nil || c.since > after || r.upto < to {
		r.misses.Add(1)
		return dst, nil, nil, false
	}
	r.hits.Add(1)
	start, _ := slices.BinarySearchFunc(c.evs, after+1, func(e recentEvent, s uint64) int { return cmp.Compare(e.ev.Seq, s) })
	end, _ := slices.BinarySearchFunc(c.evs, to+1, func(e recentEvent, s uint64) int { return cmp.Compare(e.ev.Seq, s) })
	end = min(end, start+max)
	wires = slices.Grow(dst, end-start)
	for i := start; i < end; i++ {
		e := &c.evs[i]
		if e.wire == nil {
			w := Wire(e.ev)
			e.wire = &w
			e.raw, _ = encodeAnswer(w) // nil on error: the delta encodes it then
		}
		wires = append(wires, CachedWire{Wire: e.wire, JSON: e.raw})
		if e.skipped {
			if skipped == nil {
				skipped = map[uint64]bool{}
			}
			skipped[e.ev.Seq] = true
		}
		if e.deletedAt != "" {
			if deleted == nil {
				deleted = map[string]string{}
			}
			deleted[e.ev.ID.String()] = e.deletedAt
		}
	}
	return wires, skipped, deleted, true
}
