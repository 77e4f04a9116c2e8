package e2e_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"parley/engine"
	"parley/internal/node"
	"parley/internal/testkit"
)

func TestSendRetryReturnsOriginal(t *testing.T) {
	env := testkit.Start(t)
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := createConv(t, env, alice, "", "bob")
	other := createConv(t, env, alice, "other", "bob", "carol")

	first := sendMsg(t, env, alice, conv, "hello", "t-1")
	var again engine.Message
	env.MustDo(http.StatusOK, "POST", "/api/messages/"+conv, alice,
		map[string]string{"body": "hello (retry, different body)", "client_temp_id": "t-1"}, &again)
	if again.ID != first.ID || again.Seq != first.Seq || again.Body != "hello" {
		t.Fatalf("retry returned %+v, want the original %+v", again, first)
	}
	if n := countType(streamEvents(t, env, conv), engine.MessageSent); n != 1 {
		t.Fatalf("stream holds %d message.sent events after a retry, want 1", n)
	}
	// The same client_temp_id from another sender, or in another conversation, is another message.
	fromBob := sendMsg(t, env, bob, conv, "hello", "t-1")
	elsewhere := sendMsg(t, env, alice, other, "hello", "t-1")
	if fromBob.ID == first.ID || elsewhere.ID == first.ID || fromBob.ID == elsewhere.ID {
		t.Fatalf("distinct keys shared an id: %s %s %s", first.ID, fromBob.ID, elsewhere.ID)
	}
}

func TestSendConcurrentRetriesStoreOneMessage(t *testing.T) {
	env := testkit.Start(t)
	alice := env.Token("alice")
	conv := createConv(t, env, alice, "", "bob")
	const n = 50
	var wg sync.WaitGroup
	statuses := make([]int, n)
	msgs := make([]engine.Message, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := env.Do("POST", "/api/messages/"+conv, alice, map[string]string{"body": "once", "client_temp_id": "same"})
			statuses[i] = r.Status
			if r.Status < 300 {
				r.Decode(t, &msgs[i])
			}
		}()
	}
	close(start)
	wg.Wait()
	created := 0
	for i := range n {
		switch statuses[i] {
		case http.StatusCreated:
			created++
		case http.StatusOK:
		default:
			t.Fatalf("request %d: status %d", i, statuses[i])
		}
		if msgs[i].ID != msgs[0].ID || msgs[i].Seq != msgs[0].Seq {
			t.Fatalf("request %d got message %s/%d, request 0 got %s/%d", i, msgs[i].ID, msgs[i].Seq, msgs[0].ID, msgs[0].Seq)
		}
	}
	if created != 1 {
		t.Fatalf("%d answers said 201 Created, want exactly 1", created)
	}
	if got := countType(streamEvents(t, env, conv), engine.MessageSent); got != 1 {
		t.Fatalf("stream holds %d message.sent events, want 1", got)
	}
	var page engine.MessagePage
	env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv, alice, nil, &page)
	if len(page.Messages) != 1 {
		t.Fatalf("history holds %d messages, want 1", len(page.Messages))
	}
}

// A retry that arrives after the duplicate window and races past the read
// model check reaches the log a second time; the projector's unique key must
// skip it, and neither history nor delta may show it.
func TestSendRetryAfterDuplicateWindowStoresOneRow(t *testing.T) {
	env := testkit.Start(t, func(c *node.Config) { c.DuplicateWindow = 200 * time.Millisecond })
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := createConv(t, env, alice, "", "bob")
	orig := sendMsg(t, env, alice, conv, "first", "late-retry")

	ctx := context.Background()
	var retrySeq uint64
	testkit.WaitFor(t, 10*time.Second, "the duplicate window to pass", func() bool {
		ev, err := engine.NewEvent(engine.MessageSent, conv, "alice", time.Now(),
			engine.MessageSentData{Body: "first", ClientTempID: "late-retry"})
		if err != nil {
			t.Fatal(err)
		}
		seq, dup, err := env.Node.Log().Append(ctx, ev, engine.SendKey(conv, "alice", "late-retry"))
		if err != nil {
			t.Fatal(err)
		}
		if dup && seq != orig.Seq {
			t.Fatalf("duplicate ack named seq %d, want the original %d", seq, orig.Seq)
		}
		retrySeq = seq
		return !dup
	})
	testkit.WaitFor(t, 5*time.Second, "the projector to pass the retry", func() bool { return env.Node.DB().Applied() >= retrySeq })

	if got := countType(streamEvents(t, env, conv), engine.MessageSent); got != 2 {
		t.Fatalf("stream holds %d message.sent events, want 2 (original and late retry)", got)
	}
	var page engine.MessagePage
	env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv, alice, nil, &page)
	if len(page.Messages) != 1 || page.Messages[0].ID != orig.ID {
		t.Fatalf("history = %+v, want only the original", page.Messages)
	}
	d := delta(t, env, bob, conv, "after_seq=0")
	if n := countEvents(d, engine.MessageSent); n != 1 {
		t.Fatalf("delta shows %d message.sent events, want 1", n)
	}
	if d.LastSeq != retrySeq {
		t.Fatalf("delta last_seq = %d, want %d (the cursor moves past the skipped event)", d.LastSeq, retrySeq)
	}
	if got := unreadTotal(t, env, bob); got != 1 {
		t.Fatalf("bob's unread_total = %d, want 1", got)
	}
	var again engine.Message
	env.MustDo(http.StatusOK, "POST", "/api/messages/"+conv, alice, map[string]string{"body": "first", "client_temp_id": "late-retry"}, &again)
	if again.ID != orig.ID {
		t.Fatalf("HTTP retry returned %s, want %s", again.ID, orig.ID)
	}
}

func countEvents(d deltaAnswer, typ engine.EventType) int {
	n := 0
	for _, e := range d.Events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func TestDirectConversationIsCreatedOnce(t *testing.T) {
	env := testkit.Start(t)
	alice, bob := env.Token("alice"), env.Token("bob")
	var first, second, fromBob engine.ConversationDetail
	env.MustDo(http.StatusCreated, "POST", "/api/conversations", alice, map[string]any{"participant_ids": []string{"bob"}}, &first)
	env.MustDo(http.StatusOK, "POST", "/api/conversations", alice, map[string]any{"participant_ids": []string{"bob", "alice"}}, &second)
	env.MustDo(http.StatusOK, "POST", "/api/conversations", bob, map[string]any{"participant_ids": []string{"alice"}}, &fromBob)
	if first.ID != second.ID || first.ID != fromBob.ID || first.Kind != engine.KindDirect {
		t.Fatalf("direct pair gave %s, %s, %s (kind %s)", first.ID, second.ID, fromBob.ID, first.Kind)
	}
	if len(first.Participants) != 2 {
		t.Fatalf("participants = %+v", first.Participants)
	}
}
