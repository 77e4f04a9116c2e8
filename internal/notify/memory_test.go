package notify

import (
	"context"
	"fmt"
	"parley/engine"
	"testing"
	"time"
)

// notifyStore is the read model as the notifier's fallback sees it; it
// counts the reads so a test can tell memory answers from store answers.
type notifyStore struct {
	engine.Store
	reads int
	msg   *engine.Message
	ps    []engine.Participant
}

func (s *notifyStore) MessageWithParticipants(context.Context, string, string) (*engine.Message, []engine.Participant, error) {
	s.reads++
	return s.msg, s.ps, nil
}

// The notifier answers a job from the memory of recent events and members:
// the body from the event, the recipients from the members (not the sender,
// not who joined later), nothing for a rejected or deleted message; it reads
// the store only for an event the memory no longer holds.
func TestNotifierMessageFromMemory(t *testing.T) {
	at := time.Now()
	sent := func(seq uint64, body string) engine.Event {
		ev, err := engine.NewEvent(engine.MessageSent, "c", "alice", at, engine.MessageSentData{Body: body, ClientTempID: fmt.Sprint(seq)})
		if err != nil {
			t.Fatal(err)
		}
		ev.Seq = seq
		return ev
	}
	m1, m2, m3 := sent(2, "one"), sent(3, "two"), sent(4, "three")
	del, err := engine.NewEvent(engine.MessageDeleted, "c", "alice", at, engine.MessageDeletedData{MessageID: m3.ID.String()})
	if err != nil {
		t.Fatal(err)
	}
	del.Seq = 5
	recent := engine.NewRecentEvents()
	recent.Feed(1, 5, []engine.Event{m1, m2, m3, del}, []uint64{3})
	members := engine.NewMembers(func(context.Context, string) ([]engine.Participant, error) {
		return []engine.Participant{{UserID: "alice", JoinedSeq: 1}, {UserID: "bob", JoinedSeq: 1}, {UserID: "carol", JoinedSeq: 2}, {UserID: "dave", JoinedSeq: 9}}, nil
	})
	store := &notifyStore{}
	n := NewNotifier(nil, store, nil, NotifierConfig{Recent: recent, Members: members})
	ctx := context.Background()

	msg, to, err := n.message(ctx, m1)
	if err != nil || msg == nil || msg.Body != "one" || msg.ID != m1.ID.String() || msg.Seq != 2 || msg.SenderID != "alice" || fmt.Sprint(to) != "[bob]" {
		t.Fatalf("accepted message: %+v to %v (%v)", msg, to, err)
	}
	if msg, _, err := n.message(ctx, m2); msg != nil || err != nil {
		t.Fatalf("rejected message: %+v (%v)", msg, err)
	}
	if msg, _, err := n.message(ctx, m3); msg != nil || err != nil {
		t.Fatalf("deleted message: %+v (%v)", msg, err)
	}
	if store.reads != 0 {
		t.Fatalf("%d store reads for events the memory holds", store.reads)
	}
	// An event from before what the memory holds reads the store.
	old := sent(1, "zero")
	store.msg = &engine.Message{ID: old.ID.String(), ConversationID: "c", SenderID: "alice", Body: "zero", Seq: 1}
	store.ps = []engine.Participant{{UserID: "alice"}, {UserID: "bob"}}
	if msg, to, err := n.message(ctx, old); err != nil || msg == nil || msg.Body != "zero" || fmt.Sprint(to) != "[bob]" || store.reads != 1 {
		t.Fatalf("old message: %+v to %v (%v), %d reads", msg, to, err, store.reads)
	}
}
