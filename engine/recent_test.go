package engine

import (
	"fmt"
	"testing"
)

func feedEvents(convs []string, from uint64, n int) []Event {
	out := make([]Event, n)
	for i := range out {
		out[i] = Event{Seq: from + uint64(i) + 1, ConversationID: convs[i%len(convs)], Type: MessageSent}
	}
	return out
}

func TestRecentEventsHoldsWhatItKnowsAndNoMore(t *testing.T) {
	r := NewRecentEvents()
	evs := feedEvents([]string{"c"}, 0, 400)
	r.Feed(0, uint64(len(evs)), evs, []uint64{3})
	since := r.convs["c"].since
	if since == 0 || len(r.convs["c"].evs) != 400-int(since) {
		t.Fatalf("holds %d events since %d, want all after it", len(r.convs["c"].evs), since)
	}
	if _, _, _, ok := r.Events("c", since-1, uint64(len(evs)), 10); ok {
		t.Fatal("answered from before the oldest event it still holds")
	}
	got, skipped, _, ok := r.Events("c", since, since+16, 100)
	if !ok || len(got) != 16 || got[0].Wire.Seq != since+1 || len(skipped) != 0 {
		t.Fatalf("Events(%d, +16) = %d events, ok %v", since, len(got), ok)
	}
	if _, _, _, ok := r.Events("c", since, uint64(len(evs))+1, 10); ok {
		t.Fatal("answered for a sequence it was never fed")
	}
	if _, _, _, ok := r.Events("other", 0, 5, 10); ok {
		t.Fatal("answered for a conversation it never saw")
	}
	// A batch that does not follow the last one empties the cache.
	r.Feed(1000, 1001, []Event{{Seq: 1001, ConversationID: "d"}}, nil)
	if _, _, _, ok := r.Events("c", 100, 101, 10); ok {
		t.Fatal("kept events across a gap in the feed")
	}
	if got, _, _, ok := r.Events("d", 1000, 1001, 10); !ok || len(got) != 1 {
		t.Fatalf("after the gap: %v %v", got, ok)
	}
}

func TestRecentEventsRemembersRejectedEventsAndStaysBounded(t *testing.T) {
	r := NewRecentEvents()
	r.Feed(0, 4, feedEvents([]string{"c"}, 0, 4), []uint64{2})
	_, skipped, _, ok := r.Events("c", 0, 4, 10)
	if !ok || !skipped[2] || len(skipped) != 1 {
		t.Fatalf("skipped = %v, ok %v; want {2}", skipped, ok)
	}
	var convs []string
	for i := range 1000 {
		convs = append(convs, fmt.Sprint("c", i))
	}
	last := uint64(4)
	for range 100 {
		evs := feedEvents(convs, last, 2000)
		r.Feed(last, last+2000, evs, nil)
		last += 2000
		if r.total > RecentMaxEvents {
			t.Fatalf("holds %d events, bound %d", r.total, RecentMaxEvents)
		}
	}
	n := 0
	for _, c := range r.convs {
		n += len(c.evs)
		if len(c.evs) > recentConvCap {
			t.Fatalf("a conversation holds %d events, bound %d", len(c.evs), RecentPerConversation)
		}
	}
	if n != r.total {
		t.Fatalf("counted %d events, holds %d", r.total, n)
	}
}

func TestRecentEventsResetForgets(t *testing.T) {
	r := NewRecentEvents()
	r.Feed(0, 3, feedEvents([]string{"c"}, 0, 3), nil)
	r.Reset()
	if _, _, _, ok := r.Events("c", 0, 3, 10); ok {
		t.Fatal("answered after Reset")
	}
	r.Feed(3, 5, feedEvents([]string{"c"}, 3, 2), nil)
	if got, _, _, ok := r.Events("c", 3, 5, 10); !ok || len(got) != 2 {
		t.Fatalf("after Reset and a new batch: %v %v", got, ok)
	}
}
