package projections

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"parley/engine"
	"parley/internal/notify"
)

// windowRig is a real read model with both projections: MESSAGES events
// through the projector, NOTIFICATIONS events through the notifications
// apply, each with its own sequence.
type windowRig struct {
	t      *testing.T
	ctx    context.Context
	db     *DB
	p      *Projector
	n      *Notifications
	seq    uint64 // MESSAGES
	nseq   uint64 // NOTIFICATIONS
	base   time.Time
	msgs   map[string]engine.Event
	ups    []notify.WindowUpdate
	conv   string
	events []engine.Event // NOTIFICATIONS, as applied
}

func newWindowRig(t *testing.T) *windowRig {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	n, err := NewNotifications(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	r := &windowRig{t: t, ctx: ctx, db: db, p: NewProjector(db, nil, ProjectorConfig{}), n: n,
		base: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC), msgs: map[string]engine.Event{}, conv: "01KW00000000000000000000C1"}
	r.messages(r.event(engine.ConversationCreated, "alice", 0, engine.ConversationCreatedData{
		Kind: engine.KindGroup, ParticipantIDs: []string{"alice", "bob", "carol", "dave"}}))
	return r
}

func (r *windowRig) event(typ engine.EventType, actor string, at time.Duration, data any) engine.Event {
	r.t.Helper()
	ev, err := engine.NewEvent(typ, r.conv, actor, r.base.Add(at), data)
	if err != nil {
		r.t.Fatal(err)
	}
	return ev
}

// messages applies MESSAGES events in one projector batch.
func (r *windowRig) messages(evs ...engine.Event) []engine.Event {
	r.t.Helper()
	for i := range evs {
		r.seq++
		evs[i].Seq = r.seq
	}
	if err := r.p.ApplyBatch(r.ctx, evs); err != nil {
		r.t.Fatal(err)
	}
	return evs
}

// send applies a message of actor's at `at` named name.
func (r *windowRig) send(name, actor string, at time.Duration) engine.Event {
	r.t.Helper()
	ev := r.messages(r.event(engine.MessageSent, actor, at, engine.MessageSentData{Body: "body of " + name, ClientTempID: name}))[0]
	r.msgs[name] = ev
	return ev
}

// opened makes the notification.opened a notifier would append for user
// and the named message (window 60 s).
func (r *windowRig) opened(user, name string) engine.Event {
	r.t.Helper()
	m := r.msgs[name]
	ev, err := engine.NewEvent(notify.NotificationOpened, r.conv, m.ActorID, m.At, notify.NotificationOpenedData{
		UserID: user, MessageID: m.ID.String(), MessageSeq: m.Seq, WindowMillis: 60_000})
	if err != nil {
		r.t.Fatal(err)
	}
	return ev
}

func (r *windowRig) read(user string, at time.Duration, d notify.NotificationsReadData) engine.Event {
	r.t.Helper()
	ev, err := engine.NewEvent(notify.NotificationsRead, "", user, r.base.Add(at), d)
	if err != nil {
		r.t.Fatal(err)
	}
	return ev
}

// notifications applies NOTIFICATIONS events in one transaction.
func (r *windowRig) notifications(evs ...engine.Event) {
	r.t.Helper()
	for i := range evs {
		r.nseq++
		evs[i].Seq = r.nseq
	}
	r.events = append(r.events, evs...)
	if _, err := applyNotificationBatch(r.ctx, r.db, evs, nil, &r.ups); err != nil {
		r.t.Fatal(err)
	}
}

func (r *windowRig) list(user string) []notify.Notification {
	r.t.Helper()
	ns, err := r.n.Notifications(r.ctx, user, false, 0, 50)
	if err != nil {
		r.t.Fatal(err)
	}
	return ns
}

// want checks a notification's derived answer: its first and last
// messages by name, count, sender and preview.
func (r *windowRig) want(n notify.Notification, first, last string, count int64, sender string) {
	r.t.Helper()
	preview := ""
	if count > 0 {
		preview = "body of " + last
	}
	if n.MessageID != r.msgs[first].ID.String() || n.LastMessageID != r.msgs[last].ID.String() || n.Count != count ||
		n.SenderID != sender || n.Preview != preview {
		r.t.Fatalf("notification %+v: want first %s, last %s, count %d, sender %s, preview %q", n, first, last, count, sender, preview)
	}
	one, err := r.n.Notification(r.ctx, n.ID)
	if err != nil || one == nil {
		r.t.Fatalf("Notification(%s) = %+v (%v)", n.ID, one, err)
	}
	a, _ := engine.Marshal(one)
	b, _ := engine.Marshal(n)
	if string(a) != string(b) || one.WindowEndsAt != n.WindowEndsAt {
		r.t.Fatalf("Notification(%s) = %s, the list says %s", n.ID, a, b)
	}
}

func (r *windowRig) rows() int {
	r.t.Helper()
	var c int
	if err := r.db.wr().QueryRowContext(r.ctx, `SELECT count(*) FROM notifications`).Scan(&c); err != nil {
		r.t.Fatal(err)
	}
	return c
}

// A window stores no count: the notification's count, last message, sender
// and preview come from the conversation's messages within its window (from
// others, not deleted, edits shown), whatever number of notification events
// reached it; a second window bounds the first; a read closes a window at
// its time; a member who left keeps only the first message.
func TestNotificationWindowsAreDerived(t *testing.T) {
	r := newWindowRig(t)
	r.send("m1", "alice", 10*time.Second)
	r.send("m2", "carol", 20*time.Second)
	r.notifications(r.opened("bob", "m1"))
	r.send("m3", "bob", 25*time.Second) // bob's own: not counted for him
	r.send("m4", "alice", 30*time.Second)
	r.send("m5", "alice", 40*time.Second)
	r.send("m6", "alice", 50*time.Second)
	r.messages(r.event(engine.MessageDeleted, "alice", 55*time.Second, engine.MessageDeletedData{MessageID: r.msgs["m5"].ID.String()}),
		r.event(engine.MessageEdited, "alice", 56*time.Second, engine.MessageEditedData{MessageID: r.msgs["m6"].ID.String(), Body: "body of m6 (edited)"}))
	r.msgs["m6 (edited)"] = r.msgs["m6"]
	if ns := r.list("bob"); len(ns) != 1 {
		t.Fatalf("bob: %+v", ns)
	} else {
		r.want(ns[0], "m1", "m6 (edited)", 4, "alice") // m1, m2, m4, m6
	}
	// A second node opening the same window (m2), and a redelivery of m1
	// after the duplicate window: no new notification, no new count.
	r.notifications(r.opened("bob", "m2"), r.opened("bob", "m1"))
	if ns := r.list("bob"); len(ns) != 1 || ns[0].Count != 4 || r.rows() != 1 {
		t.Fatalf("after joining events: %+v, %d rows", ns, r.rows())
	}

	// The window ends 60 s after m1: m7 at 70 s is the first message past
	// it and opens the second window, which bounds the first.
	r.send("m7", "alice", 70*time.Second)
	r.send("m8", "carol", 80*time.Second)
	if ns := r.list("bob"); ns[0].Count != 4 {
		t.Fatalf("the first window took messages after its end: %+v", ns[0])
	}
	r.notifications(r.opened("bob", "m7"))
	ns := r.list("bob")
	if len(ns) != 2 {
		t.Fatalf("after the second window: %+v", ns)
	}
	r.want(ns[0], "m7", "m8", 2, "carol")
	r.want(ns[1], "m1", "m6 (edited)", 4, "alice")

	// Reading closes the open window at the read's time: m9 after it opens a
	// third notification, and the second does not grow.
	r.notifications(r.read("bob", 85*time.Second, notify.NotificationsReadData{All: true}))
	r.send("m9", "alice", 90*time.Second)
	if ns := r.list("bob"); ns[0].Count != 2 || ns[0].ReadAt == nil {
		t.Fatalf("a read window took a message after the read: %+v", ns[0])
	}
	r.notifications(r.opened("bob", "m9"))
	ns = r.list("bob")
	if len(ns) != 3 || ns[0].ReadAt != nil {
		t.Fatalf("after the read: %+v", ns)
	}
	r.want(ns[0], "m9", "m9", 1, "alice")
	r.want(ns[1], "m7", "m8", 2, "carol")

	// A message stamped before a read (another node's clock, or in flight)
	// whose event opens the next window: the next window bounds the read
	// one, so it counts once.
	r.notifications(r.read("bob", 95*time.Second, notify.NotificationsReadData{All: true}))
	r.send("m9b", "carol", 94*time.Second)
	if ns := r.list("bob"); ns[0].Count != 2 {
		t.Fatalf("the read window does not hold a message stamped before the read: %+v", ns[0])
	}
	r.notifications(r.opened("bob", "m9b"))
	ns = r.list("bob")
	if len(ns) != 4 {
		t.Fatalf("after m9b: %+v", ns)
	}
	r.want(ns[0], "m9b", "m9b", 1, "carol")
	r.want(ns[1], "m9", "m9", 1, "alice")

	// Dave left: his notification keeps its first message only, so no later
	// message of the conversation shows in his list.
	r.notifications(r.opened("dave", "m7"))
	r.messages(r.event(engine.ParticipantRemoved, "alice", 91*time.Second, engine.ParticipantData{UserID: "dave"}))
	r.send("m10", "alice", 92*time.Second)
	if ns := r.list("dave"); len(ns) != 1 {
		t.Fatalf("dave: %+v", ns)
	} else {
		r.want(ns[0], "m7", "m7", 1, "alice")
	}
	// Added again, he is a member who joined after the window's first
	// message: still only that one.
	r.messages(r.event(engine.ParticipantAdded, "alice", 93*time.Second, engine.ParticipantData{UserID: "dave"}))
	r.send("m10b", "alice", 96*time.Second)
	if ns := r.list("dave"); len(ns) != 1 {
		t.Fatalf("dave: %+v", ns)
	} else {
		r.want(ns[0], "m7", "m7", 1, "alice")
	}

	// Every deleted message of a window: count 0, no preview.
	r.send("m11", "carol", 200*time.Second)
	r.notifications(r.opened("alice", "m11"))
	r.messages(r.event(engine.MessageDeleted, "carol", 201*time.Second, engine.MessageDeletedData{MessageID: r.msgs["m11"].ID.String()}))
	if ns := r.list("alice"); len(ns) != 1 || ns[0].Count != 0 || ns[0].Preview != "" || ns[0].LastMessageID != r.msgs["m11"].ID.String() || ns[0].SenderID != "carol" {
		t.Fatalf("a window of deleted messages: %+v", ns)
	}
}

// Notification events of one window can arrive in any order (several nodes,
// out-of-order jobs): an older message moves the open window's start back
// to it, unless it belongs to the previous window; one older than the
// latest window's start that belongs nowhere opens nothing.
func TestNotificationWindowStartMovesBack(t *testing.T) {
	r := newWindowRig(t)
	r.send("m1", "alice", 10*time.Second)
	r.send("m2", "alice", 11*time.Second)
	r.send("m3", "alice", 12*time.Second)
	r.notifications(r.opened("carol", "m3"))
	r.notifications(r.opened("carol", "m1"))
	ns := r.list("carol")
	if len(ns) != 1 {
		t.Fatalf("carol: %+v", ns)
	}
	r.want(ns[0], "m1", "m3", 3, "alice")

	// A second window, whose start m4 also arrives after it opened at m5;
	// then a late event of m2 (older than both starts, in the first window
	// by its time) changes nothing; nor does one of m1 again.
	r.send("m4", "alice", 100*time.Second)
	r.send("m5", "alice", 101*time.Second)
	r.notifications(r.opened("carol", "m5"))
	r.notifications(r.opened("carol", "m4"))
	r.notifications(r.opened("carol", "m2"))
	ns = r.list("carol")
	if len(ns) != 2 || r.rows() != 2 {
		t.Fatalf("carol after the second window: %+v", ns)
	}
	r.want(ns[0], "m4", "m5", 2, "alice")
	r.want(ns[1], "m1", "m3", 3, "alice")

	// The bob side: m4's event first opens a window at m4; then m2's (whose
	// time is far before it) arrives while that window is open: the
	// previous window (none) cannot hold it, so the start moves to m2 and
	// the window counts m2 to m5.
	r.notifications(r.opened("bob", "m4"))
	r.notifications(r.opened("bob", "m2"))
	ns = r.list("bob")
	if len(ns) != 1 {
		t.Fatalf("bob: %+v", ns)
	}
	// m2..m3 are before the window's end (m4's time + 60 s), m4, m5 too.
	r.want(ns[0], "m2", "m5", 4, "alice")
}

// Replaying the same NOTIFICATIONS events into a fresh read model, in
// batches of any size, gives the same rows; and the reports the projector
// makes for the notifier name the windows as the rows hold them.
func TestNotificationWindowsReplay(t *testing.T) {
	r := newWindowRig(t)
	for i := 1; i <= 12; i++ {
		r.send(fmt.Sprintf("m%d", i), []string{"alice", "carol"}[i%2], time.Duration(i*15)*time.Second)
	}
	r.notifications(r.opened("bob", "m2"), r.opened("dave", "m1"), r.opened("bob", "m1"))
	r.notifications(r.opened("bob", "m6"), r.read("dave", 100*time.Second, notify.NotificationsReadData{All: true}))
	r.notifications(r.opened("dave", "m7"), r.opened("bob", "m12"), r.opened("dave", "m9"))

	dump := func(db *DB) string {
		t.Helper()
		rows, err := db.wr().QueryContext(r.ctx, `SELECT seq, id, user_id, message_id, last_message_id, count, window_ends_at,
			created_at, coalesce(read_at, '-'), coalesce(first_seq, -1), coalesce(until_seq, -1) FROM notifications ORDER BY seq`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out string
		for rows.Next() {
			var f [11]string
			p := make([]any, len(f))
			for i := range f {
				p[i] = &f[i]
			}
			if err := rows.Scan(p...); err != nil {
				t.Fatal(err)
			}
			out += fmt.Sprint(f) + "\n"
		}
		return out
	}
	live := dump(r.db)
	for _, size := range []int{1, 2, 100} {
		db, err := Open(r.ctx, filepath.Join(t.TempDir(), fmt.Sprintf("r%d.db", size)))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(r.events); i += size {
			if _, err := applyNotificationBatch(r.ctx, db, r.events[i:min(i+size, len(r.events))], nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		if got := dump(db); got != live {
			t.Fatalf("batches of %d:\n%s\nlive:\n%s", size, got, live)
		}
		db.Close()
	}

	// The last report of each user is the window the read model holds open
	// (dave read, then m7 opened his next window).
	last := map[string]notify.WindowUpdate{}
	for _, up := range r.ups {
		last[up.UserID] = up
	}
	ws, err := r.n.OpenWindows(r.ctx, r.conv, r.base)
	if err != nil {
		t.Fatal(err)
	}
	open := map[string]notify.Window{} // the latest of each user, as the notifier keeps them
	for _, w := range ws {
		if w.Ends.After(open[w.UserID].Ends) {
			open[w.UserID] = w
		}
	}
	if len(ws) != 4 || len(open) != 2 {
		t.Fatalf("open windows: %+v", ws)
	}
	for _, w := range open {
		up := last[w.UserID]
		if up.Read || up.ID != w.ID || up.FirstSeq != w.FirstSeq || !up.Ends.Equal(w.Ends) {
			t.Fatalf("%s's last report %+v, the read model %+v", w.UserID, up, w)
		}
	}
}
