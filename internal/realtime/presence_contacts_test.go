package realtime_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"parley/engine"
	"parley/internal/realtime"
	"parley/internal/testkit"
)

// These tests run a real node (embedded NATS presence bucket, SQLite read
// model, projector) and join presence-messaging with hub clients, as the
// transports do; membership changes go through the REST API and reach
// presence as committed events.

const contactsWait = 10 * time.Second

// onlineClient is a hub client of one user on presence-messaging.
type onlineClient struct {
	t       *testing.T
	user    string
	c       *realtime.Client
	wake    chan struct{}
	members []string // the member list it got on joining
}

// goOnline connects a client of user to the node's hub and joins
// presence-messaging with it.
func goOnline(t *testing.T, env *testkit.Env, user string) *onlineClient {
	t.Helper()
	hub := env.Node.Hub()
	c, err := hub.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Disconnect(c) })
	if err := hub.BindUser(c, user); err != nil {
		t.Fatal(err)
	}
	oc := &onlineClient{t: t, user: user, c: c, wake: make(chan struct{}, 1)}
	c.Notify(func() {
		select {
		case oc.wake <- struct{}{}:
		default:
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), contactsWait)
	defer cancel()
	info, _ := json.Marshal(map[string]string{"id": user})
	err = env.Node.Presence().Join(ctx, c, engine.PresenceMessaging, realtime.Member{UserID: user, Info: info},
		func(ms []realtime.Member) *realtime.Frame {
			for _, m := range ms {
				oc.members = append(oc.members, m.UserID)
			}
			return &realtime.Frame{Event: "ack"}
		})
	if err != nil {
		t.Fatalf("%s joins presence-messaging: %v", user, err)
	}
	if f := oc.next(); f.Event != "ack" {
		t.Fatalf("%s's first frame is %s, want the ack", user, f.Event)
	}
	// The join returns once the lease is stored; wait until the watcher
	// has applied it, so the next join's member list holds this user.
	testkit.WaitFor(t, contactsWait, user+" online", func() bool {
		return env.Node.Presence().Online(engine.PresenceMessaging, user)
	})
	return oc
}

// leave takes the client off presence-messaging.
func (oc *onlineClient) leave(env *testkit.Env) {
	env.Node.Presence().Leave(context.Background(), oc.c, engine.PresenceMessaging)
}

// next waits for the client's next frame.
func (oc *onlineClient) next() *realtime.Frame {
	oc.t.Helper()
	deadline := time.NewTimer(contactsWait)
	defer deadline.Stop()
	for {
		if f := oc.c.Next(); f != nil {
			return f
		}
		select {
		case <-oc.wake:
		case <-deadline.C:
			oc.t.Fatalf("%s: no frame within %v", oc.user, contactsWait)
		}
	}
}

// memberEvent is one member_added / member_removed a client got.
type memberEvent struct{ event, user string }

func (e memberEvent) String() string { return e.event + " " + e.user }

// until reads the client's frames up to the member event want and returns
// the member events before it.
func (oc *onlineClient) until(want memberEvent) []memberEvent {
	oc.t.Helper()
	var before []memberEvent
	for {
		f := oc.next()
		var m realtime.Member
		if err := json.Unmarshal(f.Data, &m); err != nil {
			oc.t.Fatalf("%s: frame %s %s: %v", oc.user, f.Event, f.Data, err)
		}
		if f.Channel != engine.PresenceMessaging {
			oc.t.Fatalf("%s: frame on %q", oc.user, f.Channel)
		}
		got := memberEvent{f.Event, m.UserID}
		if got == want {
			return before
		}
		before = append(before, got)
	}
}

// expectOnly reads up to the member event want and fails when any other
// came before it.
func (oc *onlineClient) expectOnly(want memberEvent) {
	oc.t.Helper()
	if before := oc.until(want); len(before) > 0 {
		oc.t.Fatalf("%s heard %v before %v: want nothing about non-contacts", oc.user, before, want)
	}
}

func added(user string) memberEvent   { return memberEvent{engine.EventMemberAdded, user} }
func removed(user string) memberEvent { return memberEvent{engine.EventMemberRemoved, user} }

// group creates a group conversation of tok's user with others.
func group(t *testing.T, env *testkit.Env, tok string, others ...string) string {
	t.Helper()
	var d engine.ConversationDetail
	env.MustDo(http.StatusCreated, "POST", "/api/conversations", tok, map[string]any{"participant_ids": others, "title": "g"}, &d)
	return d.ID
}

// A member of presence-messaging sees their contacts (users who share a
// conversation with them) and themselves: a non-contact's join and leave
// are not heard, a contact's are, and the member list on joining holds the
// online contacts only.
func TestPresenceMessagingScopedToContacts(t *testing.T) {
	env := testkit.Start(t)
	alice := env.Token("alice")
	group(t, env, alice, "bob")
	group(t, env, env.Token("carol"), "dave")

	a := goOnline(t, env, "alice")
	if !slices.Equal(a.members, []string{"alice"}) {
		t.Fatalf("alice alone online sees %v, want [alice]", a.members)
	}
	c := goOnline(t, env, "carol") // no conversation with alice or bob
	if !slices.Equal(c.members, []string{"carol"}) {
		t.Fatalf("carol sees %v, want [carol]", c.members)
	}
	b := goOnline(t, env, "bob")
	if !slices.Equal(b.members, []string{"alice", "bob"}) {
		t.Fatalf("bob sees %v, want [alice bob] (carol is no contact of his)", b.members)
	}
	// Carol's lease was applied before bob's: had alice heard of her, it
	// would come first.
	a.expectOnly(added("bob"))

	d := goOnline(t, env, "dave")
	if !slices.Equal(d.members, []string{"carol", "dave"}) {
		t.Fatalf("dave sees %v, want [carol dave]", d.members)
	}
	c.expectOnly(added("dave"))
	c.leave(env)
	d.expectOnly(removed("carol"))
	b.leave(env)
	// Carol's leave came first; alice hears bob's only.
	a.expectOnly(removed("bob"))
}

// Contact sets follow membership live: a user added to a conversation
// appears to its online members and they to them; a user removed (or
// leaving) disappears unless another conversation still links them.
func TestPresenceMessagingFollowsMembership(t *testing.T) {
	env := testkit.Start(t)
	alice, bob := env.Token("alice"), env.Token("bob")
	room := group(t, env, alice, "bob")
	bobDave := group(t, env, bob, "dave") // links bob and dave, nothing else

	a := goOnline(t, env, "alice")
	b := goOnline(t, env, "bob")
	c := goOnline(t, env, "carol")
	d := goOnline(t, env, "dave")
	a.expectOnly(added("bob"))
	b.expectOnly(added("dave"))
	if !slices.Equal(c.members, []string{"carol"}) || !slices.Equal(d.members, []string{"bob", "dave"}) {
		t.Fatalf("carol sees %v, dave %v; want [carol] and [bob dave]", c.members, d.members)
	}

	// Carol joins alice and bob's room: she appears to both, and both to her.
	env.MustDo(http.StatusOK, "POST", "/api/conversations/"+room+"/participants", alice, map[string]any{"user_ids": []string{"carol"}}, nil)
	a.expectOnly(added("carol"))
	b.expectOnly(added("carol"))
	var got []string
	for range 2 {
		f := c.next()
		var m realtime.Member
		if err := json.Unmarshal(f.Data, &m); err != nil || f.Event != engine.EventMemberAdded {
			t.Fatalf("carol got %s %s, want member_added", f.Event, f.Data)
		}
		got = append(got, m.UserID)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("carol, added to the room, heard of %v, want alice and bob", got)
	}

	// A second conversation links alice and carol; removing carol from the
	// room then takes her from bob only, and bob from her.
	group(t, env, alice, "carol")
	env.MustDo(http.StatusNoContent, "DELETE", "/api/conversations/"+room+"/participants/carol", alice, nil, nil)
	b.expectOnly(removed("carol"))
	c.expectOnly(removed("bob"))
	// A later change alice hears is the fence: nothing about carol before it.
	group(t, env, alice, "dave")
	a.expectOnly(added("dave"))
	d.expectOnly(added("alice"))

	// Bob leaves the one conversation linking him and dave.
	env.MustDo(http.StatusNoContent, "DELETE", "/api/conversations/"+bobDave+"/participants/bob", bob, nil, nil)
	b.expectOnly(removed("dave"))
	d.expectOnly(removed("bob"))

	// Lists on joining follow the same sets: a second tab of bob's sees
	// alice only (carol and dave no longer share a conversation with him).
	b2 := goOnline(t, env, "bob")
	if !slices.Equal(b2.members, []string{"alice", "bob"}) {
		t.Fatalf("bob's second tab sees %v, want [alice bob]", b2.members)
	}
}
