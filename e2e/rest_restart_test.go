package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"parley/engine"
	"parley/internal/node"
	"parley/internal/testkit"
	"parley/streams"
)

// The projector resumes from its checkpoint after a restart, also one in the
// middle of catching up: nothing is applied twice and nothing is skipped.
func TestProjectorResumesMidStream(t *testing.T) {
	env := testkit.Start(t)
	a, b := env.Token("a"), env.Token("b")
	conv := createConv(t, env, a, "", "b")
	sendMsg(t, env, a, conv, "before", "before")
	env.Stop()

	// Append events while no projector runs, straight to the log.
	ctx := context.Background()
	conn, err := streams.Open(ctx, streams.Config{DataDir: env.Config.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	var last uint64
	for i := range n {
		sender := "a"
		if i%3 == 0 {
			sender = "b"
		}
		ev, err := engine.NewEvent(engine.MessageSent, conv, sender, time.Now(),
			engine.MessageSentData{Body: fmt.Sprint("m", i), ClientTempID: fmt.Sprint("bulk-", i)})
		if err != nil {
			t.Fatal(err)
		}
		if last, _, err = conn.Log().Append(ctx, ev, ""); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()

	// Restart, and stop again while the projector is catching up.
	env.Restart()
	testkit.WaitFor(t, 10*time.Second, "the projector to start catching up", func() bool { return env.Node.DB().Applied() > 2 })
	env.Restart()
	testkit.WaitFor(t, 30*time.Second, "the projector to reach the end", func() bool { return env.Node.DB().Applied() == last })

	fromB := int64(n / 3)
	if n%3 != 0 {
		fromB++
	}
	if got := unreadIn(t, env, a, conv); got != fromB {
		t.Fatalf("a's unread_count = %d, want %d", got, fromB)
	}
	if got := unreadTotal(t, env, b); got != int64(n)-fromB+1 {
		t.Fatalf("b's unread_total = %d, want %d", got, int64(n)-fromB+1)
	}
	var page engine.MessagePage
	env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv+"?limit=200", a, nil, &page)
	if page.Messages[len(page.Messages)-1].Seq != last {
		t.Fatalf("newest message has seq %d, want %d", page.Messages[len(page.Messages)-1].Seq, last)
	}
	count := 0
	before := ""
	for {
		var p engine.MessagePage
		q := "?limit=200"
		if before != "" {
			q += "&before_id=" + before
		}
		env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv+q, a, nil, &p)
		count += len(p.Messages)
		if !p.HasMore {
			break
		}
		before = *p.NextBefore
	}
	if count != n+1 {
		t.Fatalf("history holds %d messages, want %d", count, n+1)
	}
	// New sends keep working after the catch-up.
	sendMsg(t, env, a, conv, "after", "after")
}

// A node behind its log (replaying it after a restart, or behind the
// writes of another node) answers a lookup of a conversation or a message it
// has not reached yet once it gets there, not "not found": it waits as long
// as its projector keeps committing (only a window without a commit ends
// the wait), through as many windows as that takes. The
// test holds the projector and lets it commit a batch every quarter window,
// for one and a half windows, then lets it run: the lookups must wait
// through several windows, and find what they ask for.
func TestLookupWaitsForACatchingUpNode(t *testing.T) {
	// A window above the longest a step or a batch takes, even with the
	// rest of the suite on the same cores.
	const wait = 2 * time.Second
	env := testkit.Start(t, func(c *node.Config) { c.CatchUpWait, c.ApplyTimeout = wait, time.Minute })
	conv := createConv(t, env, env.Token("a"), "", "b")
	// A message of a conversation the node knows, and a conversation
	// created last.
	msg, err := engine.NewEvent(engine.MessageSent, conv, "a", time.Now(), engine.MessageSentData{Body: "last", ClientTempID: "last"})
	if err != nil {
		t.Fatal(err)
	}
	late, created := lateConversation(t)
	hold, end := holdBehind(t, env, conv, backlogEvents, msg, created)

	lookups := []struct{ path, tok string }{
		{"/api/messages/" + conv + "/" + msg.ID.String() + "/reads", env.Token("b")},
		{"/api/conversations/" + late, env.Token("c")},
	}
	type timed struct {
		answer
		took time.Duration
	}
	answers := make([]chan timed, len(lookups))
	t0 := time.Now()
	for i, l := range lookups {
		answers[i] = make(chan timed, 1)
		go func() {
			start := time.Now()
			a := try(env, "GET", l.path, l.tok, nil)
			answers[i] <- timed{a, time.Since(start)}
		}()
	}
	stepUntil(t, env, hold, end, wait/4, func() bool { return time.Since(t0) >= wait*3/2 })
	if env.Node.DB().Applied() >= end {
		t.Fatalf("the steps applied all %d events of the backlog within %v: make it longer", backlogEvents, time.Since(t0))
	}
	hold.Release()

	got := make([]timed, len(lookups))
	for i := range got {
		if got[i] = <-answers[i]; got[i].err != nil {
			t.Fatal(got[i].err)
		}
	}
	for i, l := range lookups { // what must hold before anything else
		if got[i].status == http.StatusNotFound || got[i].status == http.StatusForbidden {
			t.Fatalf("GET %s on a node behind its log: %s", l.path, got[i])
		}
	}
	for i, l := range lookups {
		if got[i].String() != "200" {
			t.Errorf("GET %s: %s after %v, want 200 once the node got there", l.path, got[i], got[i].took)
		}
		if got[i].took < wait {
			t.Errorf("GET %s answered after %v, within one window of %v, while the node was behind for %v", l.path, got[i].took, wait, wait*3/2)
		}
	}

	// Someone who is not a member still gets 404, at once now that the node
	// is level with the log.
	if r := env.Do("GET", "/api/conversations/"+late, env.Token("b"), nil); r.Status != http.StatusNotFound {
		t.Fatalf("outsider: %d", r.Status)
	}
}

// backlogEvents is how many sends holdBehind puts behind a node for the
// tests that step its projector: 20 batches of the projector's 2,000, more
// than the steps of a test let through.
const backlogEvents = 40000

// holdBehind holds env's projector (the node is level with its log), then
// appends n sends by "a" into conv and the last events to the log: the node
// stays behind the log, at the returned end, until the hold lets it move.
func holdBehind(t *testing.T, env *testkit.Env, conv string, n int, last ...engine.Event) (*testkit.ProjectorHold, uint64) {
	t.Helper()
	ctx := context.Background()
	applied := env.Node.DB().Applied()
	if end, err := env.Node.Log().LastSeq(ctx); err != nil || end != applied {
		t.Fatalf("the node is not level with its log before the hold: applied %d, log at %d (%v)", applied, end, err)
	}
	hold := env.HoldProjector()
	evs := make([]engine.Event, 0, n+len(last))
	for i := range n {
		ev, err := engine.NewEvent(engine.MessageSent, conv, "a", time.Now(),
			engine.MessageSentData{Body: fmt.Sprint("m", i), ClientTempID: fmt.Sprint("bulk-", last[0].ID, i)})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if err := env.Node.Log().AppendAsync(ctx, append(evs, last...), 1000); err != nil {
		t.Fatal(err)
	}
	end, err := env.Node.Log().LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := env.Node.DB().Applied(); got != applied {
		t.Fatalf("the held node applied up to %d, from %d", got, applied)
	}
	return hold, end
}

// stepUntil lets the held node's projector commit a batch every interval
// until done says so (asked after each interval), keeping it behind end.
func stepUntil(t *testing.T, env *testkit.Env, hold *testkit.ProjectorHold, end uint64, interval time.Duration, done func() bool) {
	t.Helper()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for range tick.C {
		if done() || env.Node.DB().Applied() >= end {
			return
		}
		hold.Step()
	}
}

// caughtUp releases the hold and waits for the node to apply the log up to
// end.
func caughtUp(t *testing.T, env *testkit.Env, hold *testkit.ProjectorHold, end uint64) {
	t.Helper()
	hold.Release()
	testkit.WaitFor(t, time.Minute, "the node to apply the log", func() bool { return env.Node.DB().Applied() >= end })
}

// Only a bounded number of lookups wait past the first window for a node
// that is catching up; the rest answer after one window that the node has
// not got there yet (503 catching_up, with Retry-After), not "not found".
// With room for one, of three lookups at once of a conversation created
// last, one waits and finds it and two answer catching_up; once the node
// has caught up, the same lookup finds it. The test holds the projector and
// lets it commit a batch every quarter window until two have answered (the
// node moves in the first window but cannot get there), then lets it run.
func TestCatchUpWaitersAreBounded(t *testing.T) {
	const wait = 2 * time.Second // above the longest a step or a batch takes
	env := testkit.Start(t, func(c *node.Config) {
		c.CatchUpWait, c.ApplyTimeout, c.CatchUpWaiters = wait, time.Minute, 1
	})
	conv := createConv(t, env, env.Token("a"), "", "b")
	late, created := lateConversation(t)
	tok := env.Token("c")
	hold, end := holdBehind(t, env, conv, backlogEvents, created)
	answers := make(chan answer, 3)
	t0 := time.Now()
	for range 3 {
		go func() { answers <- try(env, "GET", "/api/conversations/"+late, tok, nil) }()
	}
	var got []answer
	stepUntil(t, env, hold, end, wait/4, func() bool {
		for {
			select {
			case a := <-answers:
				got = append(got, a)
			default:
				return len(got) >= 2
			}
		}
	})
	hold.Release()
	for len(got) < 3 {
		got = append(got, <-answers)
	}
	elapsed := time.Since(t0)
	counts := map[string]int{}
	for _, a := range got {
		if a.err != nil {
			t.Fatal(a.err)
		}
		if a.status == http.StatusNotFound || a.status == http.StatusForbidden { // what must hold before anything else
			t.Fatalf("a lookup on a node behind its log: %s", a)
		}
		counts[a.String()]++
	}
	if counts["200"] != 1 || counts["503 catching_up, Retry-After 1"] != 2 {
		t.Fatalf("answers %v after %v, want one 200 (the lookup that waited) and two 503 catching_up with Retry-After", counts, elapsed)
	}
	testkit.WaitFor(t, time.Minute, "the node to apply the log", func() bool { return env.Node.DB().Applied() >= end })
	if r := env.Do("GET", "/api/conversations/"+late, tok, nil); r.Status != http.StatusOK {
		t.Fatalf("after the replay: %d %s", r.Status, r.Body)
	}
}

// A lookup that found nothing on a node behind its log gives up after
// --apply-timeout with 503 catching_up, not 404: the conversation may
// exist (here it does, created last), and so may a delta's or a history
// page's cursor (a message sent last, not 400 unknown_cursor); channel
// auth for the conversation answers the same, not 403. The projector keeps
// committing a batch now and then meanwhile (the test holds it in between):
// the lookups still give up at the timeout. After the replay both are
// found, and a conversation that does not exist answers 404.
func TestLookupGivesUpWithCatchingUp(t *testing.T) {
	const wait = 300 * time.Millisecond
	env := testkit.Start(t, func(c *node.Config) { c.CatchUpWait, c.ApplyTimeout = wait, wait })
	conv := createConv(t, env, env.Token("a"), "", "b")
	late, created := lateConversation(t)
	msg, err := engine.NewEvent(engine.MessageSent, conv, "a", time.Now(), engine.MessageSentData{Body: "last", ClientTempID: "last"})
	if err != nil {
		t.Fatal(err)
	}
	lookups := []struct {
		method, path, tok string
		body              any
	}{
		{"GET", "/api/conversations/" + late, env.Token("c"), nil},
		{"GET", "/api/messages/" + conv + "/delta?after_message_id=" + msg.ID.String(), env.Token("b"), nil},
		{"GET", "/api/messages/" + conv + "?before_id=" + msg.ID.String(), env.Token("b"), nil},
		{"POST", "/broadcasting/auth", env.Token("c"), map[string]string{"socket_id": "1.2", "channel_name": "private-conversation." + late}},
	}
	hold, end := holdBehind(t, env, conv, backlogEvents, created, msg)
	// A delta from a sequence that is in the log but not applied here yet.
	lookups = append(lookups, struct {
		method, path, tok string
		body              any
	}{"GET", fmt.Sprintf("/api/messages/%s/delta?after_seq=%d", conv, end), env.Token("b"), nil})
	answers := make(chan int, len(lookups))
	got := make([]answer, len(lookups))
	for i, l := range lookups {
		go func() {
			got[i] = try(env, l.method, l.path, l.tok, l.body)
			answers <- i
		}()
	}
	n := 0
	stepUntil(t, env, hold, end, wait/3, func() bool {
		for {
			select {
			case <-answers:
				n++
			default:
				return n == len(lookups)
			}
		}
	})
	if n < len(lookups) {
		t.Fatalf("the node applied the whole backlog before %d of %d lookups answered", len(lookups)-n, len(lookups))
	}
	caughtUp(t, env, hold, end)
	for i, l := range lookups { // what must hold before anything else
		if got[i].err != nil {
			t.Fatal(got[i].err)
		}
		if got[i].status == http.StatusNotFound || got[i].status == http.StatusForbidden || got[i].code == "unknown_cursor" {
			t.Fatalf("%s %s on a node behind its log: %s", l.method, l.path, got[i])
		}
	}
	for i, l := range lookups {
		if got[i].String() != "503 catching_up, Retry-After 1" {
			t.Errorf("%s %s during the replay: %s, want 503 catching_up with Retry-After", l.method, l.path, got[i])
		}
		if r := env.Do(l.method, l.path, l.tok, l.body); r.Status != http.StatusOK {
			t.Errorf("%s %s after the replay: %d %s", l.method, l.path, r.Status, r.Body)
		}
	}
	if r := env.Do("GET", "/api/conversations/"+ulid.Make().String(), env.Token("c"), nil); r.Status != http.StatusNotFound || r.ErrorCode() != "conversation_not_found" {
		t.Fatalf("a conversation that does not exist: %d %s", r.Status, r.Body)
	}
}

// lateConversation is the creation of a group of "a" and "c", for a log's
// end.
func lateConversation(t *testing.T) (string, engine.Event) {
	t.Helper()
	id := ulid.Make().String()
	ev, err := engine.NewEvent(engine.ConversationCreated, id, "a", time.Now(),
		engine.ConversationCreatedData{Kind: engine.KindGroup, Title: "late", ParticipantIDs: []string{"a", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	return id, ev
}

// answer is one lookup's outcome, made off the test's goroutine.
type answer struct {
	status     int
	code       string
	retryAfter string
	err        error
}

func (a answer) String() string {
	if a.status == http.StatusOK {
		return "200"
	}
	return fmt.Sprintf("%d %s, Retry-After %s", a.status, a.code, a.retryAfter)
}

// try sends a request as the token's user, without t.Fatal (it may run
// off the test's goroutine).
func try(env *testkit.Env, method, path, tok string, body any) answer {
	r, err := env.Try(method, path, tok, body)
	if err != nil {
		return answer{err: err}
	}
	return answer{status: r.Status, code: r.ErrorCode(), retryAfter: r.Header.Get("Retry-After")}
}

// A lookup that finds nothing while the event log cannot be reached answers
// 503 log_unavailable (with Retry-After) once a catch-up window passed
// without an answer from the log, not 404: the node cannot tell whether it
// is behind. A conversation it has applied is still served from
// its read model.
func TestLookupWithoutTheLogAnswersLogUnavailable(t *testing.T) {
	a := testkit.Start(t)
	b := testkit.Start(t, func(c *node.Config) { c.NATSURL, c.CatchUpWait = node.ToolURL(a.Config.DataDir), time.Second })
	conv := createConv(t, b, b.Token("a"), "", "b")
	a.Stop() // the NATS server b uses
	if r := b.Do("GET", "/api/conversations/"+conv, b.Token("a"), nil); r.Status != http.StatusOK {
		t.Fatalf("an applied conversation: %d %s", r.Status, r.Body)
	}
	r := b.Do("GET", "/api/conversations/"+ulid.Make().String(), b.Token("a"), nil)
	if r.Status != http.StatusServiceUnavailable || r.ErrorCode() != "log_unavailable" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("an unknown conversation: %d %s (Retry-After %q), want 503 log_unavailable", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
}

// A socket subscribing to a conversation's channel on a node that gave up
// waiting for its catch-up is told to retry (subscription_error 503), not
// that the user is no participant (403); after the replay it subscribes.
// The test holds the projector, so the node cannot get there meanwhile.
func TestSubscribeDuringCatchUpAnswersRetry(t *testing.T) {
	const wait = 300 * time.Millisecond
	env := rtStart(t, func(c *node.Config) { c.CatchUpWait, c.ApplyTimeout = wait, wait })
	conv := createConv(t, env, env.Token("a"), "", "b")
	late, created := lateConversation(t)
	s := rtDial(t, env)
	hold, end := holdBehind(t, env, conv, 0, created) // held: it cannot get there
	channel, cd := "private-conversation."+late, `{"user_id":"c"}`
	s.send("pusher:subscribe", "", map[string]string{"channel": channel, "auth": rtSign(s.socketID, channel, cd), "channel_data": cd})
	f := s.nextWhere("", func(f rtFrame) bool {
		return f.Channel == channel && (f.Event == "pusher_internal:subscription_succeeded" || f.Event == "pusher:subscription_error")
	})
	caughtUp(t, env, hold, end)
	var e struct{ Status int }
	if f.Event == "pusher:subscription_error" && json.Unmarshal([]byte(f.Data), &e) == nil && e.Status == http.StatusForbidden {
		t.Fatalf("during the replay: %s %s: told it is no participant", f.Event, f.Data)
	}
	if f.Event != "pusher:subscription_error" || json.Unmarshal([]byte(f.Data), &e) != nil || e.Status != http.StatusServiceUnavailable {
		t.Fatalf("during the replay: %s %s, want subscription_error with status 503", f.Event, f.Data)
	}
	s.subscribe(env, env.Token("c"), channel)
}
