package engine

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/oklog/ulid/v2"
)

// memLog is an in-memory Log: it numbers events from 1 and keeps the
// idempotency key contract (a key it holds answers the original sequence
// with duplicate=true and stores nothing).
type memLog struct {
	mu       sync.Mutex
	records  []memRecord
	keys     map[string]uint64
	appends  int    // Append calls, duplicates and failures included
	dupAcks  int    // Append calls answered duplicate=true
	err      error  // when set, Append fails with it
	onAppend func() // called after an event is stored, outside the lock
}

type memRecord struct {
	ev  Event
	key string
}

func newMemLog() *memLog { return &memLog{keys: map[string]uint64{}} }

func (l *memLog) Append(_ context.Context, ev Event, key string) (uint64, bool, error) {
	l.mu.Lock()
	l.appends++
	if l.err != nil {
		l.mu.Unlock()
		return 0, false, l.err
	}
	if seq, ok := l.keys[key]; ok && key != "" {
		l.dupAcks++
		l.mu.Unlock()
		return seq, true, nil
	}
	ev.Seq = uint64(len(l.records) + 1)
	l.records = append(l.records, memRecord{ev: ev, key: key})
	if key != "" {
		l.keys[key] = ev.Seq
	}
	hook := l.onAppend
	l.mu.Unlock()
	if hook != nil {
		hook()
	}
	return ev.Seq, false, nil
}

func (l *memLog) ConversationEvents(_ context.Context, conversationID string, afterSeq uint64, limit int) ([]Event, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, r := range l.records {
		if r.ev.ConversationID != conversationID || r.ev.Seq <= afterSeq {
			continue
		}
		if len(out) == limit {
			return out, true, nil
		}
		out = append(out, r.ev)
	}
	return out, false, nil
}

func (l *memLog) LastSeq(context.Context) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.records)), nil
}

// after returns the records stored after the first n.
func (l *memLog) after(n int) []memRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.records[n:])
}

func (l *memLog) counts() (stored, appends, dupAcks int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.records), l.appends, l.dupAcks
}

// memStore is an in-memory Store fed by a fake projector that applies the
// log's events in order with the projection's rules (simplified). The
// projector runs when an event is appended and whenever a command waits
// (WaitApplied), unless paused: then nothing is applied, and a command's
// wait lasts until its context ends.
type memStore struct {
	mu      sync.Mutex
	log     *memLog
	paused  bool
	applied uint64
	moved   chan struct{} // closed and replaced when applied moves
	convs   map[string]*memConv
	msgs    map[string]*Message // by id
	skipped map[uint64]bool
	direct  map[string]string // direct key -> conversation
	calls   map[string]int    // calls per method
}

type memConv struct {
	sum     ConversationSummary // the conversation's own fields
	members map[string]*Participant
}

func newMemStore(log *memLog) *memStore {
	s := &memStore{log: log, moved: make(chan struct{}), convs: map[string]*memConv{}, msgs: map[string]*Message{},
		skipped: map[uint64]bool{}, direct: map[string]string{}, calls: map[string]int{}}
	log.onAppend = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.project()
	}
	return s
}

// setPaused stops or restarts the projector; restarting applies nothing
// until the next append or wait.
func (s *memStore) setPaused(p bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = p
}

func (s *memStore) called(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

func (s *memStore) count(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method]++
}

// project applies the log's events after applied; s.mu is held.
func (s *memStore) project() {
	if s.paused {
		return
	}
	recs := s.log.after(int(s.applied))
	if len(recs) == 0 {
		return
	}
	for _, r := range recs {
		if !s.apply(r.ev) {
			s.skipped[r.ev.Seq] = true
		}
		s.applied = r.ev.Seq
	}
	close(s.moved)
	s.moved = make(chan struct{})
}

// apply applies one event and reports whether it was accepted.
func (s *memStore) apply(ev Event) bool {
	at := FormatTime(ev.At)
	c := s.convs[ev.ConversationID]
	if ev.Type == ConversationCreated {
		var d ConversationCreatedData
		if json.Unmarshal(ev.Data, &d) != nil || c != nil || (d.DirectKey != "" && s.direct[d.DirectKey] != "") {
			return false
		}
		c = &memConv{sum: ConversationSummary{ID: ev.ConversationID, Kind: d.Kind, Title: d.Title, CreatedBy: ev.ActorID,
			CreatedAt: at, LastActivityAt: at, LastActivitySeq: ev.Seq, LastSeq: ev.Seq}, members: map[string]*Participant{}}
		for _, u := range d.ParticipantIDs {
			c.members[u] = &Participant{UserID: u, JoinedAt: at, JoinedSeq: ev.Seq, LastReadSeq: ev.Seq}
		}
		s.convs[ev.ConversationID] = c
		if d.DirectKey != "" {
			s.direct[d.DirectKey] = ev.ConversationID
		}
		return true
	}
	if c == nil || c.members[ev.ActorID] == nil {
		return false
	}
	switch ev.Type {
	case ParticipantAdded, ParticipantRemoved:
		var d ParticipantData
		if json.Unmarshal(ev.Data, &d) != nil || (c.members[d.UserID] != nil) == (ev.Type == ParticipantAdded) {
			return false
		}
		if ev.Type == ParticipantAdded {
			c.members[d.UserID] = &Participant{UserID: d.UserID, JoinedAt: at, JoinedSeq: ev.Seq, LastReadSeq: ev.Seq}
		} else {
			delete(c.members, d.UserID)
		}
	case MessageSent:
		var d MessageSentData
		if json.Unmarshal(ev.Data, &d) != nil || s.byTempID(ev.ConversationID, ev.ActorID, d.ClientTempID) != nil {
			return false
		}
		s.msgs[ev.ID.String()] = &Message{ID: ev.ID.String(), ConversationID: ev.ConversationID, SenderID: ev.ActorID,
			Body: d.Body, ClientTempID: d.ClientTempID, Seq: ev.Seq, CreatedAt: at}
		c.sum.LastActivityAt, c.sum.LastActivitySeq = at, ev.Seq
	case MessageEdited, MessageDeleted:
		var d MessageEditedData // message_id is the field both payloads share
		if json.Unmarshal(ev.Data, &d) != nil {
			return false
		}
		m := s.msgs[d.MessageID]
		if m == nil || m.ConversationID != ev.ConversationID || m.SenderID != ev.ActorID || m.DeletedAt != nil {
			return false
		}
		if ev.Type == MessageEdited {
			m.Body, m.EditedAt = d.Body, &at
		} else {
			m.Body, m.DeletedAt = "", &at
		}
	case ConversationRead:
		var d ConversationReadData
		if json.Unmarshal(ev.Data, &d) != nil {
			return false
		}
		m, p := s.msgs[d.MessageID], c.members[ev.ActorID]
		if m == nil || m.ConversationID != ev.ConversationID || m.Seq <= p.LastReadSeq {
			return false
		}
		id := d.MessageID
		p.LastReadSeq, p.LastReadMessageID, p.LastReadAt = m.Seq, &id, &at
	default:
		return false
	}
	c.sum.LastSeq = ev.Seq
	return true
}

func (s *memStore) byTempID(conversationID, senderID, tempID string) *Message {
	for _, m := range s.msgs {
		if m.ConversationID == conversationID && m.SenderID == senderID && m.ClientTempID == tempID {
			return m
		}
	}
	return nil
}

func copyMessage(m *Message) *Message {
	if m == nil {
		return nil
	}
	c := *m
	return &c
}

// summary is the conversation as userID sees it; s.mu is held.
func (s *memStore) summary(conversationID, userID string) *ConversationSummary {
	c := s.convs[conversationID]
	if c == nil || c.members[userID] == nil {
		return nil
	}
	sum := c.sum
	p := c.members[userID]
	sum.LastReadSeq, sum.LastReadMessageID = p.LastReadSeq, p.LastReadMessageID
	sum.ParticipantCount = int64(len(c.members))
	for _, m := range s.msgs {
		if m.ConversationID != conversationID {
			continue
		}
		if sum.LastMessage == nil || m.Seq > sum.LastMessage.Seq {
			sum.LastMessage = copyMessage(m)
		}
		if m.Seq > p.LastReadSeq && m.SenderID != userID && m.DeletedAt == nil {
			sum.UnreadCount++
		}
	}
	return &sum
}

func (s *memStore) Applied() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied
}

func (s *memStore) Outcome(seq uint64) (accepted, known bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq == 0 || seq > s.applied {
		return false, false
	}
	return !s.skipped[seq], true
}

func (s *memStore) WaitApplied(ctx context.Context, seq uint64) error {
	s.count("WaitApplied")
	for {
		s.mu.Lock()
		s.project()
		if s.applied >= seq {
			s.mu.Unlock()
			return nil
		}
		ch := s.moved
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *memStore) SendCheck(_ context.Context, conversationID, userID, clientTempID string) (bool, *Message, error) {
	s.count("SendCheck")
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.convs[conversationID]
	if c == nil || c.members[userID] == nil {
		return false, nil, nil
	}
	return true, copyMessage(s.byTempID(conversationID, userID, clientTempID)), nil
}

func (s *memStore) Participant(_ context.Context, conversationID, userID string) (*Participant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.convs[conversationID]; c != nil && c.members[userID] != nil {
		p := *c.members[userID]
		return &p, nil
	}
	return nil, nil
}

func (s *memStore) Summary(_ context.Context, conversationID, userID string) (*ConversationSummary, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.summary(conversationID, userID), nil
}

func (s *memStore) Participants(_ context.Context, conversationID string) ([]Participant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Participant{}
	if c := s.convs[conversationID]; c != nil {
		for _, p := range c.members {
			out = append(out, *p)
		}
	}
	slices.SortFunc(out, func(a, b Participant) int {
		if a.JoinedSeq != b.JoinedSeq {
			return int(a.JoinedSeq) - int(b.JoinedSeq)
		}
		if a.UserID < b.UserID {
			return -1
		}
		return 1
	})
	return out, nil
}

// Conversations lists as the read model does; the fake holds no settings,
// so nothing is archived or pinned.
func (s *memStore) Conversations(_ context.Context, userID string, beforeActivitySeq uint64, limit int, archived, pinned bool) ([]ConversationSummary, error) {
	if archived || pinned {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ConversationSummary
	for id := range s.convs {
		if sum := s.summary(id, userID); sum != nil && (beforeActivitySeq == 0 || sum.LastActivitySeq < beforeActivitySeq) {
			out = append(out, *sum)
		}
	}
	slices.SortFunc(out, func(a, b ConversationSummary) int { return int(b.LastActivitySeq) - int(a.LastActivitySeq) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// unreadTotal is userID's unread count over their conversations; s.mu is held.
func (s *memStore) unreadTotal(userID string) int64 {
	var n int64
	for id := range s.convs {
		if sum := s.summary(id, userID); sum != nil {
			n += sum.UnreadCount
		}
	}
	return n
}

func (s *memStore) UnreadTotal(_ context.Context, userID string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unreadTotal(userID), nil
}

func (s *memStore) DirectConversation(_ context.Context, directKey string) (string, error) {
	s.count("DirectConversation")
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.direct[directKey], nil
}

func (s *memStore) Message(_ context.Context, conversationID, messageID string) (*Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.msgs[messageID]; m != nil && m.ConversationID == conversationID {
		return copyMessage(m), nil
	}
	return nil, nil
}

func (s *memStore) MessageWithParticipants(ctx context.Context, conversationID, messageID string) (*Message, []Participant, error) {
	m, _ := s.Message(ctx, conversationID, messageID)
	if m == nil {
		return nil, nil, nil
	}
	ps, _ := s.Participants(ctx, conversationID)
	return m, ps, nil
}

func (s *memStore) MessageByTempID(_ context.Context, conversationID, senderID, clientTempID string) (*Message, error) {
	s.count("MessageByTempID")
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyMessage(s.byTempID(conversationID, senderID, clientTempID)), nil
}

func (s *memStore) Messages(_ context.Context, conversationID string, beforeSeq uint64, limit int) ([]Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.msgs {
		if m.ConversationID == conversationID && (beforeSeq == 0 || m.Seq < beforeSeq) {
			out = append(out, *m)
		}
	}
	slices.SortFunc(out, func(a, b Message) int { return int(a.Seq) - int(b.Seq) })
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

func (s *memStore) Receipts(context.Context, string) ([]Receipt, error) { return nil, nil }

func (s *memStore) ParticipantsAmong(ctx context.Context, conversationID string, userIDs []string) ([]string, error) {
	var out []string
	for _, u := range userIDs {
		if p, _ := s.Participant(ctx, conversationID, u); p != nil {
			out = append(out, u)
		}
	}
	return out, nil
}

func (s *memStore) Settings(ctx context.Context, conversationID, userID string) (*MemberSettings, uint64, error) {
	if p, _ := s.Participant(ctx, conversationID, userID); p == nil {
		return nil, 0, nil
	}
	return &MemberSettings{}, 0, nil
}

func (s *memStore) PinnedCount(context.Context, string) (int, error) { return 0, nil }

// The fake has no search index: the end-to-end tests search the real one.
func (s *memStore) Search(context.Context, SearchRequest) ([]SearchHit, bool, error) {
	return nil, false, nil
}

func (s *memStore) MessageSeq(context.Context, string, string) (uint64, error) { return 0, nil }

func (s *memStore) AttachmentUse(context.Context, string) (*AttachmentUse, error) { return nil, nil }

func (s *memStore) DeletedAmong(ctx context.Context, conversationID string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, id := range ids {
		if m, _ := s.Message(ctx, conversationID, id); m != nil && m.DeletedAt != nil {
			out[id] = *m.DeletedAt
		}
	}
	return out, nil
}

// The fake holds no replies or reactions: the projections' tests and the
// end-to-end tests cover them on the real read model.
func (s *memStore) Replies(context.Context, uint64, uint64, int) ([]Message, error) { return nil, nil }

func (s *memStore) Reactions(context.Context, string, []uint64) (map[uint64][]Reaction, error) {
	return nil, nil
}

func (s *memStore) ReactionState(context.Context, uint64, string, string) (ReactionState, error) {
	return ReactionState{}, nil
}

func (s *memStore) Snapshot(_ context.Context, conversationID, userID string) (*Snapshot, error) {
	s.count("Snapshot")
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := s.summary(conversationID, userID)
	if sum == nil {
		return nil, nil
	}
	return &Snapshot{Checkpoint: s.applied, Conversation: *sum, Summary: UserSummary{UnreadTotal: s.unreadTotal(userID)}}, nil
}

func (s *memStore) Deleted(_ context.Context, conversationID string, from, to uint64) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for id, m := range s.msgs {
		if m.ConversationID == conversationID && m.Seq > from && m.Seq <= to && m.DeletedAt != nil {
			out[id] = *m.DeletedAt
		}
	}
	return out, nil
}

func (s *memStore) Skipped(_ context.Context, conversationID string, from, to uint64) (map[uint64]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[uint64]bool{}
	for _, r := range s.log.after(0) {
		if r.ev.ConversationID == conversationID && r.ev.Seq > from && r.ev.Seq <= to && s.skipped[r.ev.Seq] {
			out[r.ev.Seq] = true
		}
	}
	return out, nil
}

var (
	_ Log   = (*memLog)(nil)
	_ Store = (*memStore)(nil)
)

// svcFixture is a Service over a memLog and a memStore, with a fixed clock.
type svcFixture struct {
	log   *memLog
	store *memStore
	svc   *Service
}

// svcNow is the fixture's clock: every command's event happens then.
var svcNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newSvcFixture returns a fixture; cfg's Now is replaced by the fixed clock,
// and zero waits are short (a test never waits for long).
func newSvcFixture(cfg ServiceConfig) *svcFixture {
	log := newMemLog()
	store := newMemStore(log)
	cfg.Now = func() time.Time { return svcNow }
	if cfg.ApplyTimeout == 0 {
		cfg.ApplyTimeout = 2 * time.Second
	}
	if cfg.CatchUpWait == 0 {
		cfg.CatchUpWait = 200 * time.Millisecond
	}
	return &svcFixture{log: log, store: store, svc: NewService(log, store, cfg)}
}

// seed appends an event straight to the log, as another node's command
// would (projected at once unless the projector is paused); id, when set,
// is the event's (a message's) id.
func (f *svcFixture) seed(t *testing.T, typ EventType, conv, actor, id string, data any, key string) uint64 {
	t.Helper()
	ev, err := NewEvent(typ, conv, actor, svcNow.Add(-time.Hour), data)
	if err != nil {
		t.Fatal(err)
	}
	if id != "" {
		ev.ID = ulid.MustParseStrict(id)
	}
	seq, _, err := f.log.Append(context.Background(), ev, key)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// wantError fails unless err is an *Error of the given kind and code.
func wantError(t *testing.T, err error, kind Kind, code string) {
	t.Helper()
	e := AsError(err)
	if e == nil {
		t.Fatalf("error = %v, want an *Error %s (kind %d)", err, code, kind)
	}
	if e.Kind != kind || e.Code != code {
		t.Fatalf("error = %q (kind %d), want code %q (kind %d)", e.Error(), e.Kind, code, kind)
	}
}
