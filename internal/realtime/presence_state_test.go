package realtime

import (
	"fmt"
	"parley/engine"
	"slices"
	"testing"
	"time"
)

// TestPresenceStateTransitions checks that a user joins with their first
// lease and leaves with their last, and that expiry covers missed removals.
func TestPresenceStateTransitions(t *testing.T) {
	s := newPresenceState()
	t0 := time.Unix(1000, 0)
	put := func(holder string, exp time.Time) (Transition, bool) {
		return s.apply(PresenceChange{Lease: Lease{Channel: "presence-messaging", UserID: "u", Holder: holder}, Online: true}, exp)
	}
	del := func(holder string) (Transition, bool) {
		return s.apply(PresenceChange{Lease: Lease{Channel: "presence-messaging", UserID: "u", Holder: holder}}, time.Time{})
	}
	if tr, ok := put("n1", t0.Add(time.Minute)); !ok || !tr.Joined {
		t.Fatal("first lease did not join")
	}
	if _, ok := put("n2", t0.Add(time.Minute)); ok {
		t.Fatal("second lease joined again")
	}
	if _, ok := put("n1", t0.Add(2*time.Minute)); ok {
		t.Fatal("refresh joined again")
	}
	if _, ok := del("n1"); ok {
		t.Fatal("removing one of two leases left")
	}
	if _, ok := del("zz"); ok {
		t.Fatal("removing an unknown lease left")
	}
	if tr, ok := del("n2"); !ok || tr.Joined || tr.Member.UserID != "u" {
		t.Fatal("last lease did not leave")
	}
	put(HeartbeatHolder, t0.Add(time.Minute))
	if trs := s.expire(t0.Add(30*time.Second), keepNone); len(trs) != 0 || !s.has("presence-messaging", "u") {
		t.Fatal("expired early")
	}
	if trs := s.expire(t0.Add(61*time.Second), keepNone); len(trs) != 1 || s.count("presence-messaging") != 0 {
		t.Fatal("did not expire")
	}
}

func keepNone(channel, user, holder string) bool { return false }

// The sweep keeps a lease that keep says is live (this node's own, with a
// local socket), however old, and drops the others past their expiry.
func TestPresenceStateExpiryKeepsLiveLeases(t *testing.T) {
	s := newPresenceState()
	t0 := time.Unix(1000, 0)
	for _, u := range []string{"mine", "theirs"} {
		s.apply(PresenceChange{Lease: Lease{Channel: engine.PresenceMessaging, UserID: u, Holder: "h-" + u}, Online: true}, t0.Add(time.Minute))
	}
	mine := func(channel, user, holder string) bool { return holder == "h-mine" }
	trs := s.expire(t0.Add(time.Hour), mine)
	if len(trs) != 1 || trs[0].Member.UserID != "theirs" || !s.has(engine.PresenceMessaging, "mine") || s.has(engine.PresenceMessaging, "theirs") {
		t.Fatalf("expired %+v; mine %v, theirs %v", trs, s.has(engine.PresenceMessaging, "mine"), s.has(engine.PresenceMessaging, "theirs"))
	}
}

// The member list is the channel's first max members by user id, whatever
// order they joined and left in.
func TestPresenceStateMembersSorted(t *testing.T) {
	s := newPresenceState()
	exp := time.Unix(1000, 0)
	want := map[string]bool{}
	for i := range 200 {
		u := fmt.Sprintf("u%03d", (i*77)%200) // every id once, out of order
		s.apply(PresenceChange{Lease: Lease{Channel: engine.PresenceMessaging, UserID: u, Holder: "h"}, Online: true}, exp)
		want[u] = true
		if i%3 == 0 { // and some leave again
			s.apply(PresenceChange{Lease: Lease{Channel: engine.PresenceMessaging, UserID: u, Holder: "h"}}, exp)
			delete(want, u)
		}
	}
	ids := make([]string, 0, len(want))
	for u := range want {
		ids = append(ids, u)
	}
	slices.Sort(ids)
	for _, max := range []int{1000, len(ids), 10} {
		got := s.members(engine.PresenceMessaging, max)
		if len(got) != min(max, len(ids)) {
			t.Fatalf("members(%d): %d, want %d", max, len(got), min(max, len(ids)))
		}
		for i, m := range got {
			if m.UserID != ids[i] {
				t.Fatalf("members(%d)[%d] = %s, want %s", max, i, m.UserID, ids[i])
			}
		}
	}
	if n := s.count(engine.PresenceMessaging); n != len(ids) {
		t.Fatalf("count %d, want %d", n, len(ids))
	}
	if got := s.members("presence-nobody", 10); got == nil || len(got) != 0 {
		t.Fatalf("an empty channel's members: %#v", got)
	}
}

// The member list sent to a joiner holds them, in id order, at most max
// long, whether their id falls inside the first max or after it.
func TestPresenceJoinerInMemberList(t *testing.T) {
	list := func(ids ...string) []Member {
		out := make([]Member, len(ids))
		for i, id := range ids {
			out[i] = Member{UserID: id}
		}
		return out
	}
	ids := func(ms []Member) string {
		s := ""
		for _, m := range ms {
			s += m.UserID
		}
		return s
	}
	for _, c := range []struct {
		members []Member
		joiner  string
		max     int
		want    string
	}{
		{list(), "b", 3, "b"},
		{list("a", "c"), "b", 3, "abc"},
		{list("a", "b", "c"), "b", 3, "abc"}, // already listed
		{list("a", "c", "d"), "b", 3, "abc"}, // inside the first max
		{list("a", "b", "c"), "d", 3, "abd"}, // after them
	} {
		if got := ids(withJoiner(c.members, Member{UserID: c.joiner}, c.max)); got != c.want {
			t.Errorf("%s joining %s (max %d): %s, want %s", c.joiner, ids(c.members), c.max, got, c.want)
		}
	}
}
