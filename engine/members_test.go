package engine

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// membersFixture is a read model of one's own: conversation id -> users.
type membersFixture struct {
	users map[string][]string
	loads atomic.Int64
	// during runs inside a load, after the rows were read: a batch that
	// lands while the load is in flight.
	during func()
}

func (f *membersFixture) load(_ context.Context, id string) ([]Participant, error) {
	f.loads.Add(1)
	var out []Participant
	for i, u := range f.users[id] {
		out = append(out, Participant{UserID: u, JoinedSeq: uint64(i + 1)})
	}
	if f.during != nil {
		d := f.during
		f.during = nil
		d()
	}
	return out, nil
}

func memberIDs(t *testing.T, m *Members, id string) []string {
	t.Helper()
	ms, err := m.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range ms {
		out = append(out, p.UserID)
	}
	return out
}

func TestMembersKeepsUntilMembershipChanges(t *testing.T) {
	f := &membersFixture{users: map[string][]string{"c1": {"a", "b"}}}
	m := NewMembers(f.load)
	memberIDs(t, m, "c1")
	memberIDs(t, m, "c1")
	if f.loads.Load() != 1 {
		t.Fatalf("loads = %d, want 1 (the second lookup from memory)", f.loads.Load())
	}
	// Messages and reads leave the entry; a rejected participant.added too.
	m.Feed(0, 3, []Event{{Seq: 1, ConversationID: "c1", Type: MessageSent}, {Seq: 2, ConversationID: "c1", Type: ConversationRead},
		{Seq: 3, ConversationID: "c1", Type: ParticipantAdded}}, []uint64{3})
	memberIDs(t, m, "c1")
	if f.loads.Load() != 1 {
		t.Fatalf("loads = %d after messages, reads and a rejected add, want 1", f.loads.Load())
	}
	f.users["c1"] = []string{"a", "b", "c"}
	m.Feed(3, 4, []Event{{Seq: 4, ConversationID: "c1", Type: ParticipantAdded}}, nil)
	if got := memberIDs(t, m, "c1"); fmt.Sprint(got) != "[a b c]" || f.loads.Load() != 2 {
		t.Fatalf("after participant.added: %v (loads %d)", got, f.loads.Load())
	}
	m.Reset()
	memberIDs(t, m, "c1")
	if f.loads.Load() != 3 {
		t.Fatalf("loads = %d after Reset, want 3", f.loads.Load())
	}
}

// A load that read the rows before a membership batch landed answers its
// caller but is not kept: the next lookup reads again.
func TestMembersDropsARacingLoad(t *testing.T) {
	f := &membersFixture{users: map[string][]string{"c1": {"a"}}}
	m := NewMembers(f.load)
	f.during = func() {
		f.users["c1"] = []string{"a", "b"}
		m.Feed(0, 1, []Event{{Seq: 1, ConversationID: "c1", Type: ParticipantAdded}}, nil)
	}
	if got := memberIDs(t, m, "c1"); fmt.Sprint(got) != "[a]" {
		t.Fatalf("racing load = %v", got)
	}
	if got := memberIDs(t, m, "c1"); fmt.Sprint(got) != "[a b]" || f.loads.Load() != 2 {
		t.Fatalf("after the race: %v (loads %d), want [a b] read again", got, f.loads.Load())
	}
}

func TestMembersBounded(t *testing.T) {
	f := &membersFixture{users: map[string][]string{}}
	for i := range 2000 {
		f.users[fmt.Sprint("c", i)] = make([]string, 100)
	}
	m := NewMembers(f.load)
	for i := range 2000 {
		memberIDs(t, m, fmt.Sprint("c", i))
		if m.rows > MembersMaxRows {
			t.Fatalf("rows = %d after %d conversations, bound %d", m.rows, i+1, MembersMaxRows)
		}
	}
	if len(m.convs) == 0 || len(m.convs) >= 2000 {
		t.Fatalf("%d conversations kept", len(m.convs))
	}
	// The most recent one is still there.
	before := f.loads.Load()
	memberIDs(t, m, "c1999")
	if f.loads.Load() != before {
		t.Fatal("the most recently loaded conversation was evicted")
	}
}
