package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"parley/engine"
	"parley/internal/testkit"
)

// Deltas are answered from the node's memory of recent events where it
// holds them. Every answer must be the one the log gives: the same events,
// rejected ones left out, deleted bodies blanked, the same has_more and
// last_seq, for every cursor and limit.
func TestDeltaFromMemoryEqualsDeltaFromLog(t *testing.T) {
	env := testkit.Start(t)
	ctx := context.Background()
	a, b := env.Token("a"), env.Token("b")
	convs := []string{createConv(t, env, a, "", "b"), createConv(t, env, a, "group", "b", "c"), createConv(t, env, b, "other", "a")}
	var msgs [3][]engine.Message
	for i := range 60 {
		k := i % 3
		tok := a
		if i%4 == 0 {
			tok = b
		}
		msgs[k] = append(msgs[k], sendMsg(t, env, tok, convs[k], fmt.Sprint("m", i), temp(i)))
		switch i % 10 {
		case 3:
			markRead(t, env, b, convs[k], msgs[k][len(msgs[k])-1].ID)
		case 5:
			m := msgs[k][len(msgs[k])-2]
			owner := a
			if m.SenderID == "b" {
				owner = b
			}
			env.MustDo(http.StatusOK, "DELETE", "/api/messages/"+convs[k]+"/"+m.ID, owner, nil, nil)
		case 7:
			// A send the projector rejects: the same client_temp_id again,
			// straight to the log without a Nats-Msg-Id.
			for range 2 {
				ev, err := engine.NewEvent(engine.MessageSent, convs[k], "a", time.Now(), engine.MessageSentData{Body: "dup", ClientTempID: "dup-key"})
				if err != nil {
					t.Fatal(err)
				}
				if _, _, err := env.Node.Log().Append(ctx, ev, ""); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	last, err := env.Node.Log().LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "projection of the workload", func() bool { return env.Node.DB().Applied() >= last })

	compareAll(t, env, convs, msgs, last)
	compareConcurrently(t, env, convs, last)
	// A restarted node loads the tail of the log into its memory before its
	// projector starts: the same answers, and still from memory.
	env.Restart()
	testkit.WaitFor(t, 10*time.Second, "the restarted node's projection", func() bool { return env.Node.DB().Applied() >= last })
	compareAll(t, env, convs, msgs, last)
}

// compareAll asks the node for deltas of every conversation at many cursors
// and limits, compares each with the answer read from the log, and checks
// that most came from the node's memory.
func compareAll(t *testing.T, env *testkit.Env, convs []string, msgs [3][]engine.Message, last uint64) {
	t.Helper()
	ctx := context.Background()
	b := env.Token("b")
	fromLog := engine.NewService(env.Node.Log(), env.Node.DB(), engine.ServiceConfig{})
	before := env.Node.Recent().Stats()
	compared := 0
	for k, conv := range convs {
		for after := uint64(0); after <= last; after += 3 {
			for _, limit := range []int{1, 7, 100} {
				q := fmt.Sprintf("after_seq=%d&limit=%d", after, limit)
				r := env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv+"/delta?"+q, b, nil, nil)
				want, err := fromLog.Delta(ctx, "b", conv, engine.DeltaCursor{AfterSeq: after, HasSeq: true}, limit)
				if err != nil {
					t.Fatal(err)
				}
				if got, exp := normalize(t, r.Body), normalize(t, mustJSON(t, want)); got != exp {
					t.Fatalf("conversation %d, %s:\nfrom memory: %s\nfrom the log: %s", k, q, got, exp)
				}
				compared++
			}
		}
	}
	// Cursors by message id, resolved from memory on the fast path.
	for k, conv := range convs {
		for _, m := range msgs[k] {
			r := env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv+"/delta?after_message_id="+m.ID+"&limit=20", b, nil, nil)
			want, err := fromLog.Delta(ctx, "b", conv, engine.DeltaCursor{AfterMessageID: m.ID}, 20)
			if err != nil {
				t.Fatal(err)
			}
			if got, exp := normalize(t, r.Body), normalize(t, mustJSON(t, want)); got != exp {
				t.Fatalf("conversation %d, after %s:\nfrom memory: %s\nfrom the log: %s", k, m.ID, got, exp)
			}
			compared++
		}
	}
	// Someone outside the conversation gets 404 with a cursor the memory
	// holds, as from the log.
	outsider := env.Token("z")
	for _, q := range []string{"after_seq=" + itoa(msgs[0][10].Seq), "after_message_id=" + msgs[0][10].ID} {
		if r := env.Do("GET", "/api/messages/"+convs[0]+"/delta?"+q, outsider, nil); r.Status != http.StatusNotFound {
			t.Fatalf("outsider, %s: status %d, want 404", q, r.Status)
		}
	}
	st := env.Node.Recent().Stats()
	if st.Hits-before.Hits < uint64(compared)/2 {
		t.Fatalf("only %d of %d deltas came from memory (%d misses): the cache is not used", st.Hits-before.Hits, compared, st.Misses-before.Misses)
	}
}

// compareConcurrently asks for deltas from several goroutines at once, so
// the pooled lists a delta is built in and answered from are reused while
// other answers are being built and written: every answer must still be the
// log's.
func compareConcurrently(t *testing.T, env *testkit.Env, convs []string, last uint64) {
	t.Helper()
	fromLog := engine.NewService(env.Node.Log(), env.Node.DB(), engine.ServiceConfig{})
	type query struct{ path, want string }
	var queries []query
	for _, conv := range convs {
		for after := uint64(0); after <= last; after += 5 {
			for _, limit := range []int{3, 100} {
				want, err := fromLog.Delta(context.Background(), "b", conv, engine.DeltaCursor{AfterSeq: after, HasSeq: true}, limit)
				if err != nil {
					t.Fatal(err)
				}
				queries = append(queries, query{fmt.Sprintf("/api/messages/%s/delta?after_seq=%d&limit=%d", conv, after, limit), normalize(t, mustJSON(t, want))})
			}
		}
	}
	tok := env.Token("b")
	const workers = 8
	mismatches := make(chan string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() { // no t.Fatal off the test's goroutine: the first mismatch comes back
			defer wg.Done()
			for i := range 2 * len(queries) {
				q := queries[(i*(w+1)+w)%len(queries)] // each worker its own order
				r, err := env.Try("GET", q.path, tok, nil)
				if err != nil {
					mismatches <- err.Error()
					return
				}
				var v any
				if r.Status != http.StatusOK || json.Unmarshal(r.Body, &v) != nil {
					mismatches <- fmt.Sprintf("%s: status %d, answer %q", q.path, r.Status, r.Body)
					return
				}
				if got, _ := json.Marshal(v); string(got) != q.want {
					mismatches <- fmt.Sprintf("%s:\ngot  %s\nwant %s", q.path, got, q.want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(mismatches)
	if m, ok := <-mismatches; ok {
		t.Fatalf("concurrent deltas: %s", m)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// normalize re-encodes JSON so two encodings of the same value compare
// equal.
func normalize(t *testing.T, raw []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return string(mustJSON(t, v))
}
