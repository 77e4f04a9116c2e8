package engine

import (
	"context"
	"slices"
	"sync"
)

// Participation is one participant as the per-message paths need it: who, and
// since which stream sequence.
type Participation struct {
	UserID    string
	JoinedSeq uint64
	Muted     bool // they muted the conversation
}

// Members remembers the participants of recently active conversations as
// this node's read model holds them, so the per-message work after a commit
// (the dispatcher's summaries, the notifier's presence check) does not read
// SQLite for every message. It is fed every applied batch: an accepted event
// that may change a conversation's membership drops its entry, and the next
// lookup reads the store again. A read that raced with such a batch is
// returned but not kept. Memory is bounded by MembersMaxRows participants in
// all; the least recently used conversations go first.
type Members struct {
	load func(ctx context.Context, conversationID string) ([]Participant, error)

	mu    sync.Mutex
	convs map[string]*membersEntry
	rows  int
	gen   uint64 // bumped by every drop, so a racing read is not kept
	tick  uint64
}

type membersEntry struct {
	members []Participation
	used    uint64
}

// MembersMaxRows bounds the participants Members keeps in all.
const MembersMaxRows = 100000

// NewMembers returns an empty cache over load, the read model's
// participants of a conversation.
func NewMembers(load func(ctx context.Context, conversationID string) ([]Participant, error)) *Members {
	return &Members{load: load, convs: map[string]*membersEntry{}}
}

// Get returns the conversation's participants (empty when it has none or
// does not exist). The slice is shared: callers must not change it.
func (m *Members) Get(ctx context.Context, conversationID string) ([]Participation, error) {
	m.mu.Lock()
	if e := m.convs[conversationID]; e != nil {
		m.tick++
		e.used = m.tick
		m.mu.Unlock()
		return e.members, nil
	}
	gen := m.gen
	m.mu.Unlock()
	ps, err := m.load(ctx, conversationID)
	if err != nil {
		return nil, err
	}
	members := make([]Participation, len(ps))
	for i, p := range ps {
		members[i] = Participation{UserID: p.UserID, JoinedSeq: p.JoinedSeq, Muted: p.Muted}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gen == gen && m.convs[conversationID] == nil && len(members) <= MembersMaxRows/4 {
		m.tick++
		m.convs[conversationID] = &membersEntry{members: members, used: m.tick}
		m.rows += len(members) + 1
		if m.rows > MembersMaxRows {
			m.evict()
		}
	}
	return members, nil
}

// Feed takes an applied batch (the projector's OnBatch): every accepted
// event that can change membership drops its conversation's entry.
func (m *Members) Feed(from, last uint64, events []Event, skipped []uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ev := range events {
		if ev.Seq <= from || ev.Seq > last || keepsMembership(ev.Type) || slices.Contains(skipped, ev.Seq) {
			continue
		}
		m.gen++
		if e := m.convs[ev.ConversationID]; e != nil {
			m.rows -= len(e.members) + 1
			delete(m.convs, ev.ConversationID)
		}
	}
}

// Reset forgets everything (a rebuilt read model was swapped in).
func (m *Members) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.convs, m.rows = map[string]*membersEntry{}, 0
	m.gen++
}

// keepsMembership reports whether an accepted event of type t leaves its
// conversation's participants as they were. Unknown types count as changes,
// and so do settings (the entries hold who muted the conversation).
func keepsMembership(t EventType) bool {
	switch t {
	case MessageSent, MessageEdited, MessageDeleted, ConversationRead, MessageReacted:
		return true
	}
	return false
}

// evict drops the least recently used quarter of the conversations, and
// more while the rows are still over the bound.
func (m *Members) evict() {
	order := leastRecentFirst(m.convs, func(e *membersEntry) uint64 { return e.used })
	for i, id := range order {
		if i >= len(order)/4 && m.rows <= MembersMaxRows*3/4 {
			break
		}
		m.rows -= len(m.convs[id].members) + 1
		delete(m.convs, id)
	}
}
