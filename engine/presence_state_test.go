package engine

import (
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
	if trs := s.expire(t0.Add(30 * time.Second)); len(trs) != 0 || !s.has("presence-messaging", "u") {
		t.Fatal("expired early")
	}
	if trs := s.expire(t0.Add(61 * time.Second)); len(trs) != 1 || s.count("presence-messaging") != 0 {
		t.Fatal("did not expire")
	}
}
