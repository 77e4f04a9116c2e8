package notify

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// windowsFunc is a WindowStore made of a function.
type windowsFunc func(conversationID string) []Window

func (f windowsFunc) OpenWindows(_ context.Context, conversationID string, _ time.Time) ([]Window, error) {
	return f(conversationID), nil
}

// The memory of windows, rule by rule: who needs an event for a message.
func TestWindowMemoryRules(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	const conv = "c1"
	w := newWindowMemory()
	var reads int
	var during func()
	store := windowsFunc(func(string) []Window {
		if during != nil {
			during()
		}
		return []Window{
			{ID: "n-erin", UserID: "erin", ConversationID: conv, FirstSeq: 5, Ends: t0.Add(time.Minute)},
			{ID: "n-old", UserID: "fred", ConversationID: conv, FirstSeq: 0, Ends: t0.Add(time.Minute)}, // notification.created
			{ID: "n-read", UserID: "gina", ConversationID: conv, FirstSeq: 6, Ends: t0.Add(time.Minute)},
		}
	})
	// gina reads while the conversation's windows load: what the load
	// returns for her may be closed already.
	during = func() {
		reads++
		w.observe([]WindowUpdate{{Read: true, Window: Window{UserID: "gina"}}})
	}
	ids := 0
	eventID := func(int) string { ids++; return fmt.Sprint("ev-", ids) }
	step := func(users []string, seq uint64, at time.Duration) []string {
		t.Helper()
		cw, err := w.acquire(ctx, store, conv, t0.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		defer w.release(cw)
		idx, _ := w.decide(cw, users, seq, t0.Add(at), t0.Add(at+time.Minute), eventID)
		var out []string
		for _, i := range idx {
			out = append(out, users[i])
		}
		return out
	}
	all := []string{"bob", "carol", "erin", "fred", "gina"}
	if got := step(all, 10, 10*time.Second); !slices.Equal(got, []string{"bob", "carol", "gina"}) || reads != 1 {
		t.Fatalf("first message: %v (%d loads)", got, reads)
	}
	if got := step(all, 11, 11*time.Second); len(got) != 0 || reads != 1 {
		t.Fatalf("second message: %v (%d loads)", got, reads)
	}
	// Out of order: a message before bob's, carol's and gina's first one.
	if got := step(all, 9, 9*time.Second); !slices.Equal(got, []string{"bob", "carol", "gina"}) {
		t.Fatalf("an older message: %v", got)
	}
	if got := step(all, 8, 8*time.Second); !slices.Equal(got, []string{"bob", "carol", "gina"}) {
		t.Fatalf("an even older message: %v", got)
	}
	// A read forgets the reader's windows; a failed append forgets too.
	w.observe([]WindowUpdate{{Read: true, Window: Window{UserID: "carol"}}})
	cw, _ := w.acquire(ctx, store, conv, t0)
	w.forget(cw, []string{"bob"})
	w.release(cw)
	if got := step(all, 12, 12*time.Second); !slices.Equal(got, []string{"bob", "carol"}) {
		t.Fatalf("after carol's read and bob's failed append: %v", got)
	}
	// The projection joined this node's event for bob into another node's
	// notification, whose window ends sooner: the memory takes its end.
	var bobEvent string
	for u, mw := range cw.open {
		if u == "bob" {
			bobEvent = mw.eventID
		}
	}
	w.observe([]WindowUpdate{{EventID: bobEvent, Window: Window{ID: "n-bob", UserID: "bob", ConversationID: conv,
		FirstSeq: 12, Ends: t0.Add(40 * time.Second)}}})
	// Another node's window for hal, and an older report for erin.
	w.observe([]WindowUpdate{
		{EventID: "elsewhere", Window: Window{ID: "n-hal", UserID: "hal", ConversationID: conv, FirstSeq: 12, Ends: t0.Add(50 * time.Second)}},
		{EventID: "older", Window: Window{ID: "n-erin-0", UserID: "erin", ConversationID: conv, FirstSeq: 1, Ends: t0.Add(5 * time.Second)}},
	})
	all = append(all, "hal")
	if got := step(all, 13, 45*time.Second); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("at 45 s: %v", got)
	}
	// Past every window but bob's new one (45 s + 1 min) and hal's (50 s).
	if got := step(all, 14, 80*time.Second); !slices.Equal(got, []string{"carol", "erin", "fred", "gina", "hal"}) {
		t.Fatalf("at 80 s: %v", got)
	}
	if reads != 1 {
		t.Fatalf("the conversation loaded %d times", reads)
	}
}

// The memory stays within its bounds: conversations beyond the bound are
// forgotten (and loaded again when they come back).
func TestWindowMemoryBounds(t *testing.T) {
	ctx := context.Background()
	w := newWindowMemory()
	at := time.Now()
	loads := 0
	store := windowsFunc(func(string) []Window { loads++; return nil })
	for i := range windowsMaxConversations + 100 {
		cw, err := w.acquire(ctx, store, fmt.Sprint("c", i), at)
		if err != nil {
			t.Fatal(err)
		}
		w.decide(cw, []string{"u"}, 1, at, at.Add(time.Minute), func(int) string { return "e" })
		w.release(cw)
	}
	if n := len(w.convs); n > windowsMaxConversations {
		t.Fatalf("%d conversations remembered", n)
	}
	if w.windows != len(w.convs) {
		t.Fatalf("%d windows counted, %d held", w.windows, len(w.convs))
	}
	if loads != windowsMaxConversations+100 {
		t.Fatalf("%d loads", loads)
	}
}
