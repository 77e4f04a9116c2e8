package projections

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// sendIndex answers a send's check (is the sender a member, has it sent
// this client_temp_id before?) from memory when the answer is certain, so
// most sends read nothing from SQLite before they append:
//
//   - members is a cache of memberships SQLite confirmed, dropped for a
//     member as soon as the projector commits their removal. A send that
//     trusted it in the moment before is refused by the projector (the
//     sender is no longer a participant) and answered 404, as before.
//   - sent is a Bloom filter of every (conversation, sender, client_temp_id)
//     the messages table holds, built once from it in the background and
//     fed by the projector after each commit. "Not in the filter" is
//     certain: the check skips SQLite. "Perhaps" (a retry, or a false
//     positive, about 1 in 100) asks SQLite as before.
//
// Until the filter is built every check asks SQLite.
type sendIndex struct {
	sent atomic.Pointer[bloom] // nil until built

	mu       sync.Mutex
	building *bloom // being filled by a scan; fed by the projector too
	members  map[string]struct{}
	removals uint64    // counts removals, so a lookup that raced one is not cached
	inFlight bool      // a build runs
	retryAt  time.Time // a failed build's next try
	epoch    uint64    // counts resets; a build of an older one is discarded

	// Checks answered from memory, checks that asked SQLite, builds begun.
	fast, slow, builds atomic.Int64
}

// Bounds of the memory: at most sendMembersMax cached memberships (the cache
// empties when full), and a filter sized for twice the messages (at least
// sendFilterMin keys, at most sendFilterMax: 80 MiB), rebuilt at twice the
// size when it holds more than it was sized for; past sendFilterMax keys
// there is no filter and every send asks SQLite. A failed build is retried
// after sendRetry.
const (
	sendMembersMax = 1 << 17
	sendFilterMin  = 1 << 20
	sendFilterMax  = 1 << 26
	sendRetry      = time.Minute
)

var sendSeed = maphash.MakeSeed()

// sendKeyHash hashes a send's idempotency key.
func sendKeyHash(conversationID, senderID, clientTempID string) uint64 {
	var h maphash.Hash
	h.SetSeed(sendSeed)
	h.WriteString(conversationID)
	h.WriteByte(0)
	h.WriteString(senderID)
	h.WriteByte(0)
	h.WriteString(clientTempID)
	return h.Sum64()
}

func memberKey(conversationID, userID string) string { return conversationID + "\x00" + userID }

// check answers from memory: ok when the sender is certainly a member and
// the key certainly new.
func (s *sendIndex) check(conversationID, userID, clientTempID string) bool {
	f := s.sent.Load()
	if f == nil {
		return false
	}
	s.mu.Lock()
	_, member := s.members[memberKey(conversationID, userID)]
	s.mu.Unlock()
	return member && !f.has(sendKeyHash(conversationID, userID, clientTempID))
}

// removalCount is read before a SQLite lookup whose membership rememberMember
// may cache.
func (s *sendIndex) removalCount() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.removals
}

// rememberMember caches a membership SQLite confirmed, unless a removal
// committed since the lookup began (removals, from removalCount, moved).
func (s *sendIndex) rememberMember(conversationID, userID string, removals uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removals != removals {
		return
	}
	if s.members == nil || len(s.members) >= sendMembersMax {
		s.members = map[string]struct{}{}
	}
	s.members[memberKey(conversationID, userID)] = struct{}{}
}

// committed takes a committed batch's new send keys and removed members.
func (s *sendIndex) committed(sent []uint64, removed []string) {
	if len(sent) == 0 && len(removed) == 0 {
		return
	}
	s.mu.Lock()
	for _, k := range removed {
		delete(s.members, k)
	}
	if len(removed) > 0 {
		s.removals++
	}
	building := s.building
	s.mu.Unlock()
	f := s.sent.Load()
	for _, h := range sent {
		if f != nil {
			f.add(h)
		}
		if building != nil {
			building.add(h)
		}
	}
}

// reset forgets everything: the database under it was swapped for another
// file, whose commits this index did not see. A build in flight is
// discarded when it ends.
func (s *sendIndex) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	s.sent.Store(nil)
	s.building, s.members, s.retryAt = nil, nil, time.Time{}
	s.removals++
}

// ensureBuilt starts building a filter from the messages table in the
// background when there is none or the one there is full, unless a build
// is in flight or a failed one waits for its retry. The build ends with
// ctx.
func (s *sendIndex) ensureBuilt(ctx context.Context, db *DB, logger *slog.Logger) {
	s.mu.Lock()
	f := s.sent.Load()
	if f != nil && !f.full() || s.inFlight || time.Now().Before(s.retryAt) {
		s.mu.Unlock()
		return
	}
	s.inFlight = true
	epoch := s.epoch
	s.mu.Unlock()
	go func() {
		if err := s.build(ctx, db, epoch); err != nil && ctx.Err() == nil {
			logger.Warn("send index: sends check SQLite until it is built", "err", err)
		}
	}()
}

// build fills a new filter for epoch: the projector feeds it from before
// the scan's snapshot, so every key is in it, by the scan or by the
// projector. A messages table larger than sendFilterMax keys gets none.
func (s *sendIndex) build(ctx context.Context, db *DB, epoch uint64) (err error) {
	var b *bloom
	retry := sendRetry
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.inFlight = false
		if s.building == b {
			s.building = nil
		}
		if err != nil {
			s.retryAt = time.Now().Add(retry)
		}
	}()
	s.builds.Add(1)
	var n int
	if err := db.rd().QueryRowContext(ctx, `SELECT count(*) FROM messages`).Scan(&n); err != nil {
		return err
	}
	if n >= sendFilterMax {
		retry = time.Hour // counting such a table is not free
		return fmt.Errorf("%d messages, more than the filter's bound of %d", n, sendFilterMax)
	}
	b = newBloom(min(sendFilterMax, max(sendFilterMin, 2*n)))
	s.mu.Lock()
	if s.epoch != epoch {
		s.mu.Unlock()
		return nil
	}
	s.building = b
	s.mu.Unlock()
	rows, err := db.rd().QueryContext(ctx, `SELECT conversation_id, sender_id, client_temp_id FROM messages`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var conv, sender, ctid string
	for rows.Next() {
		if err := rows.Scan(&conv, &sender, &ctid); err != nil {
			return err
		}
		b.add(sendKeyHash(conv, sender, ctid))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.epoch == epoch && s.building == b {
		s.sent.Store(b)
	}
	s.mu.Unlock()
	return nil
}

// bloom is a Bloom filter of 64-bit hashes: bloomBitsPerKey bits and
// bloomProbes probes per key, about 1 % false positives at capacity. Adds
// and lookups may run concurrently.
type bloom struct {
	words    []atomic.Uint64
	bits     uint64
	capacity int64
	n        atomic.Int64
}

const (
	bloomBitsPerKey = 10
	bloomProbes     = 7
)

func newBloom(capacity int) *bloom {
	bits := uint64(capacity) * bloomBitsPerKey
	bits = (bits + 63) &^ 63
	return &bloom{words: make([]atomic.Uint64, bits/64), bits: bits, capacity: int64(capacity)}
}

// probes derives the probe positions from two halves of h (double hashing).
func (b *bloom) probe(h uint64, i uint64) uint64 {
	h1, h2 := h&0xffffffff, h>>32|1
	return (h1 + i*h2) % b.bits
}

func (b *bloom) add(h uint64) {
	for i := range uint64(bloomProbes) {
		p := b.probe(h, i)
		b.words[p/64].Or(1 << (p % 64))
	}
	b.n.Add(1)
}

func (b *bloom) has(h uint64) bool {
	for i := range uint64(bloomProbes) {
		p := b.probe(h, i)
		if b.words[p/64].Load()&(1<<(p%64)) == 0 {
			return false
		}
	}
	return true
}

// full reports whether the filter holds more keys than it was sized for.
func (b *bloom) full() bool { return b.n.Load() > b.capacity }
