package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"parley/engine"
	"parley/projections"
)

// searchVocabulary is the number of distinct words the search workload's
// bodies draw from, Zipf-distributed: a few words are in most messages,
// most words in a few.
const searchVocabulary = 20000

// searchWord is the word of rank i (0: the most common).
func searchWord(i int) string { return fmt.Sprintf("w%d", i) }

// searchLog generates n messages of 12 words in 1,000 conversations of 5
// members among 500 users, in stream order from seq 1, and hands them to
// fn in batches: a log for projections.Rebuild without a server.
func searchLog(n int) projections.RangeReader {
	return func(ctx context.Context, from, to uint64, batch int, fn func([]engine.Event) error) error {
		rng := rand.New(rand.NewPCG(42, 7))
		zipf := rand.NewZipf(rng, 1.1, 1, searchVocabulary-1)
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		const convs = 1000
		var evs []engine.Event
		var seq uint64
		emit := func(ev engine.Event) error {
			seq++
			ev.Seq = seq
			if seq < from || seq > to {
				return nil
			}
			evs = append(evs, ev)
			if len(evs) == batch {
				err := fn(evs)
				evs = evs[:0]
				return err
			}
			return nil
		}
		for i := range convs {
			var members []string
			for m := range mixMembers {
				members = append(members, fmt.Sprint("u", (i+m*97)%500))
			}
			ev, _ := engine.NewEvent(engine.ConversationCreated, fmt.Sprintf("%026d", i), members[0], at,
				engine.ConversationCreatedData{Kind: engine.KindGroup, Title: "search", ParticipantIDs: members})
			if err := emit(ev); err != nil {
				return err
			}
		}
		words := make([]string, 12)
		for i := range n {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			for w := range words {
				words[w] = searchWord(int(zipf.Uint64()))
			}
			c := rng.IntN(convs)
			sender := fmt.Sprint("u", (c+rng.IntN(mixMembers)*97)%500)
			ev, _ := engine.NewEvent(engine.MessageSent, fmt.Sprintf("%026d", c), sender, at.Add(time.Duration(i)*time.Millisecond),
				engine.MessageSentData{Body: strings.Join(words, " "), ClientTempID: fmt.Sprint("s", i)})
			if err := emit(ev); err != nil {
				return err
			}
		}
		if len(evs) > 0 {
			return fn(evs)
		}
		return nil
	}
}

// benchSearch builds read models holding --search-messages messages (the
// projector's own apply functions, in one process, no server) and times
// searches of one user (a member of about 10 conversations) through the
// read model: a rare word, a common one, two words, a prefix, and a common
// word in one conversation.
func benchSearch(ctx context.Context, c benchConfig, stderr io.Writer) ([]Result, error) {
	n := c.SearchMessages
	dir, err := os.MkdirTemp("", "parley-bench-search-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db, err := projections.OpenBulk(ctx, filepath.Join(dir, "search.db"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	fmt.Fprintf(stderr, "search: building read models of %d messages\n", n)
	began := time.Now()
	total := uint64(n + 1000)
	if err := projections.Rebuild(ctx, db, searchLog(n), 1, total, nil); err != nil {
		return nil, err
	}
	built := time.Since(began)
	const user = "u7"
	shapes := []struct{ name, q, conv string }{
		{"rare word", searchWord(15000), ""},
		{"common word", searchWord(1), ""},
		{"two words", searchWord(1) + " " + searchWord(40), ""},
		{"prefix", searchWord(12) + "*", ""},
		{"common word, one conversation", searchWord(1), fmt.Sprintf("%026d", 7)},
	}
	var out []Result
	for _, s := range shapes {
		expr, _ := engine.MatchExpression(s.q)
		req := engine.SearchRequest{UserID: user, ConversationID: s.conv, MatchExpr: expr, Limit: engine.DefaultSearch}
		var lat latencies
		var hits int
		deadline := time.Now().Add(min(c.Duration, 5*time.Second))
		for i := 0; i < 20 || (i < 2000 && time.Now().Before(deadline)); i++ {
			t0 := time.Now()
			hs, _, err := db.Search(ctx, req)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			lat.add(time.Since(t0))
			hits = len(hs)
		}
		r := Result{Workload: "search", Params: map[string]any{"messages": n, "query": s.name, "q": s.q, "user_conversations": 10},
			Extra: map[string]any{"hits": hits, "queries": len(lat.d), "build_s": built.Seconds()}}
		lat.fill(&r)
		out = append(out, r)
	}
	return out, nil
}
