package e2e_test

import (
	"net/http"
	"slices"
	"testing"

	"parley/internal/node"
)

// presence-messaging shows each member their contacts (users who share a
// conversation with them) and themselves, on every node: two nodes on one
// NATS, sockets on both, real WebSocket clients speaking the Pusher
// protocol. A non-contact's join is not heard, a contact's is (from the
// other node too); membership changes made on either node add and remove
// contacts live; a contact's socket closing on one node is heard on the
// other.
func TestPresenceMessagingContactsAcrossNodes(t *testing.T) {
	a := rtStart(t, func(c *node.Config) { c.NodeName = "node-a" })
	b := rtStart(t, func(c *node.Config) {
		c.NATSURL = node.ToolURL(a.Config.DataDir)
		c.NodeName = "node-b"
	})
	const ch = "presence-messaging"
	alice, bob, carol, dave := a.Token("alice"), a.Token("bob"), a.Token("carol"), a.Token("dave")
	room := rtConv(t, a, alice, "bob")
	rtConv(t, a, alice, "dave")
	rtConv(t, a, carol, "erin") // carol: no conversation with alice, bob or dave

	sa := rtDial(t, a)
	if got := contactsView(t, sa.subscribe(a, alice, ch)); !slices.Equal(got, []string{"alice"}) {
		t.Fatalf("alice, first online, sees %v", got)
	}
	// Bob on node b: alice is in his view, from his member list or, if node
	// b had not applied the conversation yet, as it does.
	sb := rtDial(t, b)
	bobSees := contactsView(t, sb.subscribe(b, bob, ch))
	if !slices.Contains(bobSees, "alice") {
		contactsUntil(t, sb, "pusher_internal:member_added", "alice")
	}
	if got := contactsUntil(t, sa, "pusher_internal:member_added", "bob"); len(got) > 0 {
		t.Fatalf("alice heard %v before bob joined on node b", got)
	}

	// Carol (no contact of theirs) joins on node b, then dave (alice's
	// contact): alice hears dave only, bob neither, carol nobody.
	sc := rtDial(t, b)
	if got := contactsView(t, sc.subscribe(b, carol, ch)); !slices.Equal(got, []string{"carol"}) {
		t.Fatalf("carol sees %v, want [carol]", got)
	}
	sd := rtDial(t, b)
	sd.subscribe(b, dave, ch)
	if got := contactsUntil(t, sa, "pusher_internal:member_added", "dave"); len(got) > 0 {
		t.Fatalf("alice heard %v before dave: carol is no contact of hers", got)
	}

	// Carol is added to alice and bob's room on node b: she appears to both
	// (alice on the other node), and both to her.
	b.MustDo(http.StatusOK, "POST", "/api/conversations/"+room+"/participants", alice, map[string]any{"user_ids": []string{"carol"}}, nil)
	if got := contactsUntil(t, sa, "pusher_internal:member_added", "carol"); len(got) > 0 {
		t.Fatalf("alice heard %v before carol appeared", got)
	}
	if got := contactsUntil(t, sb, "pusher_internal:member_added", "carol"); len(got) > 0 {
		t.Fatalf("bob heard %v before carol appeared: carol and dave were no contacts of his", got)
	}
	heard := []string{}
	for len(heard) < 2 {
		ev, user := contactsNext(t, sc)
		if ev != "pusher_internal:member_added" {
			t.Fatalf("carol got %s %s", ev, user)
		}
		heard = append(heard, user)
	}
	slices.Sort(heard)
	if !slices.Equal(heard, []string{"alice", "bob"}) {
		t.Fatalf("carol, added to the room, heard of %v, want alice and bob", heard)
	}

	// Removed again (on node a), she leaves their views and they hers.
	a.MustDo(http.StatusNoContent, "DELETE", "/api/conversations/"+room+"/participants/carol", alice, nil, nil)
	for _, s := range []*rtSocket{sa, sb} {
		if got := contactsUntil(t, s, "pusher_internal:member_removed", "carol"); len(got) > 0 {
			t.Fatalf("heard %v before carol's removal", got)
		}
	}
	heard = heard[:0]
	for len(heard) < 2 {
		ev, user := contactsNext(t, sc)
		if ev != "pusher_internal:member_removed" {
			t.Fatalf("carol got %s %s", ev, user)
		}
		heard = append(heard, user)
	}
	slices.Sort(heard)
	if !slices.Equal(heard, []string{"alice", "bob"}) {
		t.Fatalf("carol, removed from the room, lost %v, want alice and bob", heard)
	}

	// Subscribing again on the same socket answers with the same scoped
	// list.
	if got := contactsView(t, sc.subscribe(b, carol, ch)); !slices.Equal(got, []string{"carol"}) {
		t.Fatalf("carol subscribing again sees %v, want [carol]", got)
	}

	// Bob's socket on node b closes: alice on node a hears it.
	_ = sb.conn.CloseNow()
	if got := contactsUntil(t, sa, "pusher_internal:member_removed", "bob"); len(got) > 0 {
		t.Fatalf("alice heard %v before bob left", got)
	}
	// Carol heard nothing of it: a fence she does hear comes first.
	erin := rtDial(t, a)
	erin.subscribe(a, a.Token("erin"), ch)
	if got := contactsUntil(t, sc, "pusher_internal:member_added", "erin"); len(got) > 0 {
		t.Fatalf("carol heard %v before erin joined: bob is no contact of hers any more", got)
	}
}

// contactsView is the ids of a presence subscription_succeeded frame.
func contactsView(t testing.TB, f rtFrame) []string {
	t.Helper()
	var p rtPresence
	f.decode(t, &p)
	ids := slices.Clone(p.Presence.IDs)
	slices.Sort(ids)
	if p.Presence.Count != len(ids) || len(p.Presence.Hash) != len(ids) {
		t.Fatalf("presence data %s: count and hash do not match the ids", f.Data)
	}
	return ids
}

// contactsNext waits for the socket's next presence-messaging member event.
func contactsNext(t testing.TB, s *rtSocket) (event, user string) {
	t.Helper()
	f := s.nextWhere("", func(f rtFrame) bool {
		return f.Channel == "presence-messaging" &&
			(f.Event == "pusher_internal:member_added" || f.Event == "pusher_internal:member_removed")
	})
	var m rtMember
	f.decode(t, &m)
	return f.Event, m.UserID
}

// contactsUntil reads the socket's presence-messaging member events up to
// (event, user) and returns those before it ("event user").
func contactsUntil(t testing.TB, s *rtSocket, event, user string) []string {
	t.Helper()
	var before []string
	for {
		ev, u := contactsNext(t, s)
		if ev == event && u == user {
			return before
		}
		before = append(before, ev+" "+u)
	}
}
