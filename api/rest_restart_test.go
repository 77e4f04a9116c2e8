package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"parley/engine"
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
