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

// A node replaying a long log answers a lookup of a conversation or a
// message it has not reached yet once it gets there, not "not found": it
// waits as long as its projector keeps committing. A wait without a commit
// is short here (500 ms; the projector commits every 2,000 events, well
// under that), so the replay takes several.
func TestLookupWaitsForACatchingUpNode(t *testing.T) {
	// A window well above the time the projector takes for one batch of
	// the replay, even with the rest of the suite on the same cores.
	const wait = 500 * time.Millisecond
	env := testkit.Start(t, func(c *node.Config) { c.CatchUpWait, c.ApplyTimeout = wait, time.Minute })
	conv := createConv(t, env, env.Token("a"), "", "b")

	// lookup fetches path at once and wants 200; a lookup that took less
	// than one wait would not show the feature, so that machine skips.
	lookup := func(path, tok string) {
		t.Helper()
		t0 := time.Now()
		if r := env.Do("GET", path, tok, nil); r.Status != http.StatusOK {
			t.Fatalf("GET %s: status %d, want 200: %s", path, r.Status, r.Body)
		}
		if d := time.Since(t0); d < wait {
			t.Skipf("the node replayed %d events in %v, within one wait of %v: too fast a machine for this test", backlogEvents, d, wait)
		}
	}

	// A message of a conversation the node knows, sent last.
	msg, err := engine.NewEvent(engine.MessageSent, conv, "a", time.Now(), engine.MessageSentData{Body: "last", ClientTempID: "last"})
	if err != nil {
		t.Fatal(err)
	}
	restartOnBacklog(t, env, conv, msg)
	lookup("/api/messages/"+conv+"/"+msg.ID.String()+"/reads", env.Token("b"))

	// A conversation created last.
	late, created := lateConversation(t)
	restartOnBacklog(t, env, conv, created)
	lookup("/api/conversations/"+late, env.Token("c"))

	// Someone who is not a member still gets 404, at once now that the node
	// is level with the log.
	if r := env.Do("GET", "/api/conversations/"+late, env.Token("b"), nil); r.Status != http.StatusNotFound {
		t.Fatalf("outsider: %d", r.Status)
	}
}

// backlogEvents is how many sends restartOnBacklog puts behind a node: about
// two seconds of replay here, several windows of the catch-up tests.
const backlogEvents = 100000

// restartOnBacklog stops env's node, appends backlogEvents sends by "a"
// into conv and then the last events, and restarts the node on them: it
// comes back behind the log by a few seconds of replay, which the returned
// watch follows.
func restartOnBacklog(t *testing.T, env *testkit.Env, conv string, last ...engine.Event) *replayWatch {
	t.Helper()
	env.Stop()
	ctx := context.Background()
	conn, err := streams.Open(ctx, streams.Config{DataDir: env.Config.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	evs := make([]engine.Event, 0, backlogEvents+1)
	for i := range backlogEvents {
		ev, err := engine.NewEvent(engine.MessageSent, conv, "a", time.Now(),
			engine.MessageSentData{Body: fmt.Sprint("m", i), ClientTempID: fmt.Sprint("bulk-", last[0].ID, i)})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if err := conn.Log().AppendAsync(ctx, append(evs, last...), 1000); err != nil {
		t.Fatal(err)
	}
	end, err := conn.Log().LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	env.Restart()
	return watchReplay(t, env, end)
}

// replayWatch follows a restarted node's projector until it reaches the
// end of the log.
type replayWatch struct {
	stop chan struct{}
	done chan struct{}
	took time.Duration // how long the replay took; 0 if stopped before the end
	end  uint64        // the log's last sequence the replay runs to
}

func watchReplay(t *testing.T, env *testkit.Env, end uint64) *replayWatch {
	w := &replayWatch{stop: make(chan struct{}), done: make(chan struct{}), end: end}
	db := env.Node.DB()
	go func() {
		defer close(w.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		start := time.Now()
		for db.Applied() < end {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
		w.took = time.Since(start)
	}()
	t.Cleanup(w.finish)
	return w
}

// wait waits for the end of the replay.
func (w *replayWatch) wait(t *testing.T) {
	t.Helper()
	testkit.WaitFor(t, time.Minute, "the end of the replay", func() bool {
		select {
		case <-w.done:
			return true
		default:
			return false
		}
	})
}

// finish stops the watch (idempotent).
func (w *replayWatch) finish() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// Only a bounded number of lookups wait past the first window for a node
// that is catching up; the rest answer after one window that the node has
// not got there yet (503 catching_up, with Retry-After), not "not found".
// With room for one, of three lookups at once of a conversation created
// last, one waits and finds it and two answer catching_up; once the node
// has caught up, the same lookup finds it.
func TestCatchUpWaitersAreBounded(t *testing.T) {
	// The projector commits every 2,000 events while it replays (about
	// every 40 ms here, a few times that with the rest of the suite
	// running), well within a window, so the one that waits keeps waiting.
	const wait = 500 * time.Millisecond
	env := testkit.Start(t, func(c *node.Config) {
		c.CatchUpWait, c.ApplyTimeout, c.CatchUpWaiters = wait, time.Minute, 1
	})
	conv := createConv(t, env, env.Token("a"), "", "b")
	late, created := lateConversation(t)
	tok := env.Token("c")
	w := restartOnBacklog(t, env, conv, created)
	answers := make(chan answer, 3)
	t0 := time.Now()
	for range 3 {
		go func() { answers <- try(env, "GET", "/api/conversations/"+late, tok, nil) }()
	}
	got := map[string]int{}
	for range 3 {
		a := <-answers
		if a.err != nil {
			t.Fatal(a.err)
		}
		got[a.String()]++
	}
	elapsed := time.Since(t0)
	w.wait(t)
	if w.took < 2*wait {
		t.Skipf("the node replayed %d events in %v, within two waits of %v: too fast a machine for this test", backlogEvents, w.took, wait)
	}
	if got["200"] != 1 || got["503 catching_up, Retry-After 1"] != 2 {
		t.Fatalf("answers %v after %v, want one 200 (the lookup that waited) and two 503 catching_up with Retry-After", got, elapsed)
	}
	if r := env.Do("GET", "/api/conversations/"+late, tok, nil); r.Status != http.StatusOK {
		t.Fatalf("after the replay: %d %s", r.Status, r.Body)
	}
}

// A lookup that found nothing on a node still replaying gives up after
// --apply-timeout with 503 catching_up, not 404: the conversation may
// exist (here it does, created last), and so may a delta's or a history
// page's cursor (a message sent last, not 400 unknown_cursor); channel
// auth for the conversation answers the same, not 403. After the replay both are
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
	w := restartOnBacklog(t, env, conv, created, msg)
	// A delta from a sequence that is in the log but not applied here yet.
	lookups = append(lookups, struct {
		method, path, tok string
		body              any
	}{"GET", fmt.Sprintf("/api/messages/%s/delta?after_seq=%d", conv, w.end), env.Token("b"), nil})
	answers := make([]chan answer, len(lookups))
	for i, l := range lookups {
		answers[i] = make(chan answer, 1)
		go func() { answers[i] <- try(env, l.method, l.path, l.tok, l.body) }()
	}
	got := make([]answer, len(lookups))
	for i := range got {
		if got[i] = <-answers[i]; got[i].err != nil {
			t.Fatal(got[i].err)
		}
	}
	w.wait(t)
	if w.took < 2*wait {
		t.Skipf("the node replayed %d events in %v, within two waits of %v: too fast a machine for this test", backlogEvents, w.took, wait)
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
func TestSubscribeDuringCatchUpAnswersRetry(t *testing.T) {
	const wait = 300 * time.Millisecond
	env := rtStart(t, func(c *node.Config) { c.CatchUpWait, c.ApplyTimeout = wait, wait })
	conv := createConv(t, env, env.Token("a"), "", "b")
	late, created := lateConversation(t)
	w := restartOnBacklog(t, env, conv, created)
	s := rtDial(t, env)
	channel, cd := "private-conversation."+late, `{"user_id":"c"}`
	s.send("pusher:subscribe", "", map[string]string{"channel": channel, "auth": rtSign(s.socketID, channel, cd), "channel_data": cd})
	f := s.nextWhere("", func(f rtFrame) bool {
		return f.Channel == channel && (f.Event == "pusher_internal:subscription_succeeded" || f.Event == "pusher:subscription_error")
	})
	w.wait(t)
	if w.took < 2*wait {
		t.Skipf("the node replayed %d events in %v, within two waits of %v: too fast a machine for this test", backlogEvents, w.took, wait)
	}
	var e struct{ Status int }
	if f.Event != "pusher:subscription_error" || json.Unmarshal([]byte(f.Data), &e) != nil || e.Status != http.StatusServiceUnavailable {
		t.Fatalf("during the replay: %s %s, want subscription_error with status 503", f.Event, f.Data)
	}
	s.subscribe(env, env.Token("c"), channel)
}
