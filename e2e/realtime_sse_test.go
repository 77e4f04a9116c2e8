package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"parley/engine"
	"parley/internal/node"
	"parley/internal/testkit"
)

// rtSSEEvent is one parsed Server-Sent Event (comments have Event ":").
type rtSSEEvent struct {
	ID    string
	HasID bool
	Event string
	Data  string
}

// rtStream is an EventSource-like reader of /api/stream.
type rtStream struct {
	t      *testing.T
	events chan rtSSEEvent
	cancel context.CancelFunc
	done   chan struct{}
}

// rtOpenStream opens the stream as tok's user, resuming after lastID when
// it is not "".
func rtOpenStream(t *testing.T, env *testkit.Env, tok, lastID string) *rtStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", env.URL()+"/api/stream?token="+tok, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &rtStream{t: t, events: make(chan rtSSEEvent, 10000), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev rtSSEEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Event != "" || ev.Data != "" {
					s.events <- ev
				}
				ev = rtSSEEvent{}
			case strings.HasPrefix(line, ":"):
				s.events <- rtSSEEvent{Event: ":", Data: strings.TrimSpace(line[1:])}
			case strings.HasPrefix(line, "id: "):
				ev.ID, ev.HasID = line[4:], true
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.Data = line[6:]
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *rtStream) close() {
	s.cancel()
	<-s.done
}

// next waits for the next event (comments included).
func (s *rtStream) next() rtSSEEvent {
	s.t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-time.After(rtWait):
		s.t.Fatal("timed out waiting for an SSE event")
		return rtSSEEvent{}
	}
}

// until reads events up to and including the first one named name, and
// returns them all (comments left out).
func (s *rtStream) until(name string) []rtSSEEvent {
	s.t.Helper()
	var out []rtSSEEvent
	deadline := time.Now().Add(rtWait)
	for {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s; got %+v", name, out)
		}
		ev := s.next()
		if ev.Event == ":" {
			continue
		}
		out = append(out, ev)
		if ev.Event == name {
			return out
		}
	}
}

// lastID is what a browser would send as Last-Event-ID after evs.
func rtLastID(evs []rtSSEEvent, prev string) string {
	for _, ev := range evs {
		if ev.HasID {
			prev = ev.ID
		}
	}
	return prev
}

// TestRealtimeSSEResume checks the SSE stream: events with the stream
// sequence as id, conversation.updated, keep-alives, and a reconnect with
// Last-Event-ID that replays what was sent while away exactly once before
// going live.
func TestRealtimeSSEResume(t *testing.T) {
	env := rtStart(t, func(c *node.Config) { c.SSEKeepAlive = 200 * time.Millisecond })
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := rtConv(t, env, alice, "bob")
	other := rtConv(t, env, alice, "bob", "carol")

	s := rtOpenStream(t, env, bob, "")
	evs := s.until("ready")
	m1 := rtSend(t, env, alice, conv, "one")
	// Each conversation's conversation.updated comes just before its events
	// (it has no id), so a drop between them loses neither.
	got := s.until("message.sent")
	upd, last := got[len(got)-2], got[len(got)-1]
	if last.ID != strconv.FormatUint(m1.Seq, 10) || !strings.Contains(last.Data, `"body":"one"`) {
		t.Fatalf("message.sent event %+v, want id %d", last, m1.Seq)
	}
	var u engine.ConversationUpdate
	if err := json.Unmarshal([]byte(upd.Data), &u); err != nil || upd.Event != "conversation.updated" || u.Summary.UnreadTotal != 1 || upd.HasID {
		t.Fatalf("conversation.updated %+v (%v)", upd, err)
	}
	for ev := s.next(); ev.Event != ":" || ev.Data != "keep-alive"; ev = s.next() {
	}
	lastID := rtLastID(append(evs, got...), "")
	s.close()

	// While bob is away: messages in two conversations, an edit.
	var away []uint64
	for i, c := range []string{conv, other, conv} {
		away = append(away, rtSend(t, env, alice, c, "away-"+strconv.Itoa(i)).Seq)
	}
	env.MustDo(http.StatusOK, "PATCH", "/api/messages/"+conv+"/"+m1.ID, alice, map[string]string{"body": "one!"}, nil)

	s = rtOpenStream(t, env, bob, lastID)
	replay := s.until("ready")
	live := rtSend(t, env, alice, other, "live")
	replay = append(replay, s.until("message.sent")...)

	var seqs []uint64
	updates := map[string]int{}
	for _, ev := range replay {
		if ev.Event == "conversation.updated" {
			if err := json.Unmarshal([]byte(ev.Data), &u); err != nil {
				t.Fatal(err)
			}
			updates[u.Conversation.ID]++
		}
		if !ev.HasID || ev.Event == "ready" {
			continue
		}
		n, _ := strconv.ParseUint(ev.ID, 10, 64)
		if len(seqs) > 0 && n <= seqs[len(seqs)-1] {
			t.Fatalf("ids not increasing: %d after %d", n, seqs[len(seqs)-1])
		}
		seqs = append(seqs, n)
	}
	msgs := 0
	for _, ev := range replay {
		if ev.Event == "message.sent" {
			msgs++
		}
	}
	if msgs != 4 || seqs[len(seqs)-1] != live.Seq || seqs[0] != away[0] || updates[conv] == 0 || updates[other] == 0 {
		t.Fatalf("resumed stream after id %s: ids %v (away %v, live %d), %d message.sent, updates %v", lastID, seqs, away, live.Seq, msgs, updates)
	}

	// A cursor beyond the log is answered with reset, then the stream goes on.
	s3 := rtOpenStream(t, env, bob, "999999")
	if evs := s3.until("ready"); evs[0].Event != "reset" {
		t.Fatalf("unknown cursor: %+v", evs)
	}
}

// TestRealtimeSSEOutsiderSeesNothing checks that a user's stream carries
// nothing of a conversation they are not in: neither its events nor its
// conversation.updated, live or replayed after Last-Event-ID. Each check
// ends on a fence, a message of the outsider's own conversation sent after
// the others, which the stream must deliver; the stream keeps the log's
// order, so anything of the other conversation would have come before it.
func TestRealtimeSSEOutsiderSeesNothing(t *testing.T) {
	env := rtStart(t)
	alice, mallory := env.Token("alice"), env.Token("mallory")
	secret := rtConv(t, env, alice, "bob")
	own := rtConv(t, env, alice, "mallory")

	leaked := func(evs []rtSSEEvent) {
		t.Helper()
		for _, ev := range evs {
			if strings.Contains(ev.Data, secret) || strings.Contains(ev.Data, "classified") {
				t.Fatalf("the outsider's stream carried %s: %s", ev.Event, ev.Data)
			}
		}
	}
	fence := func(s *rtStream, body string) []rtSSEEvent {
		t.Helper()
		m := rtSend(t, env, alice, own, body)
		var evs []rtSSEEvent
		for {
			got := s.until("message.sent")
			evs = append(evs, got...)
			if last := got[len(got)-1]; last.ID == strconv.FormatUint(m.Seq, 10) {
				if !strings.Contains(last.Data, body) {
					t.Fatalf("fence %+v, want body %q", last, body)
				}
				return evs
			}
		}
	}

	s := rtOpenStream(t, env, mallory, "")
	ready := s.until("ready")
	lastID := rtLastID(ready, "")
	m := rtSend(t, env, alice, secret, "classified-one")
	env.MustDo(http.StatusOK, "PATCH", "/api/messages/"+secret+"/"+m.ID, alice, map[string]string{"body": "classified-two"}, nil)
	rtSend(t, env, alice, secret, "classified-three")
	leaked(fence(s, "fence-live"))
	s.close()

	// The replay after a cursor from before them leaves them out too.
	s = rtOpenStream(t, env, mallory, lastID)
	replay := s.until("ready")
	leaked(replay)
	leaked(fence(s, "fence-replay"))
	n := 0
	for _, ev := range replay {
		if ev.Event == "message.sent" && strings.Contains(ev.Data, "fence-live") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the replay after %s holds the first fence %d times, want once: %+v", lastID, n, replay)
	}
}
