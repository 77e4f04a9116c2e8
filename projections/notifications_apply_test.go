package projections

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"parley/engine"
	"parley/internal/notify"
)

// The notification rules as the projection applies them, event by event: a
// first message opens a notification, later ones within its window collapse
// into it (an older one only counts), a second notification.created of the
// same message for the same user changes nothing, and a message after the
// window opens the next notification.
func TestApplyNotificationCreatedRules(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "n.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n, err := NewNotifications(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	const conv = "01KAAAAAAAAAAAAAAAAAAAAAAA"
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var seq uint64
	created := func(msg string, msgSeq uint64, after time.Duration) engine.Event {
		ev, err := engine.NewEvent(notify.NotificationCreated, conv, "alice", at.Add(after), notify.NotificationCreatedData{
			UserID: "bob", MessageID: msg, MessageSeq: msgSeq, Preview: "p" + msg, WindowMillis: 60_000,
		})
		if err != nil {
			t.Fatal(err)
		}
		seq++
		ev.Seq = seq
		return ev
	}
	apply := func(evs ...engine.Event) {
		t.Helper()
		if _, err := applyNotificationBatch(ctx, db, evs, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	list := func() []notify.Notification {
		t.Helper()
		ns, err := n.Notifications(ctx, "bob", false, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		return ns
	}
	var items int
	countItems := func() int {
		t.Helper()
		if err := db.wr().QueryRowContext(ctx, `SELECT count(*) FROM notification_items`).Scan(&items); err != nil {
			t.Fatal(err)
		}
		return items
	}

	itemOf := func(msg string) uint64 {
		t.Helper()
		var seq uint64
		if err := db.wr().QueryRowContext(ctx, `SELECT notification_seq FROM notification_items WHERE message_id = ? AND user_id = 'bob'`,
			msg).Scan(&seq); err != nil {
			t.Fatalf("item of %s: %v", msg, err)
		}
		return seq
	}

	first := created("m1", 10, 0)
	apply(first)
	apply(created("m3", 30, time.Second), created("m2", 20, 2*time.Second)) // m2 is older than m3: it only counts
	ns := list()
	if len(ns) != 1 || ns[0].ID != first.ID.String() || ns[0].Count != 3 || ns[0].MessageID != "m1" ||
		ns[0].LastMessageID != "m3" || ns[0].Preview != "pm3" {
		t.Fatalf("after three messages in the window: %+v", ns)
	}
	for _, m := range []string{"m1", "m2", "m3"} {
		if got := itemOf(m); got != first.Seq {
			t.Fatalf("%s's item belongs to notification seq %d, want %d", m, got, first.Seq)
		}
	}
	// The same message for the same user again, as a redelivery past the
	// stream's duplicate window appends it: nothing changes.
	apply(created("m3", 30, 3*time.Second), created("m1", 10, 4*time.Second))
	if again := list(); len(again) != 1 || again[0].Count != 3 || again[0].LastMessageID != "m3" || countItems() != 3 {
		t.Fatalf("a second notification of the same messages changed the projection: %+v, %d items", again, items)
	}
	// Past the window, the next message opens a new notification.
	next := created("m4", 40, 2*time.Minute)
	apply(next)
	ns = list()
	if len(ns) != 2 || ns[0].ID != next.ID.String() || ns[0].Count != 1 || ns[1].Count != 3 || countItems() != 4 ||
		itemOf("m4") != next.Seq {
		t.Fatalf("after the window: %+v, %d items", ns, items)
	}
	// A redelivery after its notification's window, or after the user read
	// it, changes nothing either; a message after the read opens a new one.
	again := created("m1", 10, 150*time.Second)
	read, err := engine.NewEvent(notify.NotificationsRead, "", "bob", at.Add(3*time.Minute), notify.NotificationsReadData{All: true})
	if err != nil {
		t.Fatal(err)
	}
	seq++
	read.Seq = seq
	apply(again, read, created("m4", 40, 3*time.Minute+time.Second))
	ns = list()
	if len(ns) != 2 || ns[0].Count != 1 || ns[1].Count != 3 || ns[0].ReadAt == nil || countItems() != 4 {
		t.Fatalf("after redeliveries past the window and the read: %+v, %d items", ns, items)
	}
	after := created("m5", 50, 3*time.Minute+2*time.Second)
	apply(after)
	if ns = list(); len(ns) != 3 || ns[0].ID != after.ID.String() || ns[0].Count != 1 || ns[0].ReadAt != nil ||
		itemOf("m5") != after.Seq {
		t.Fatalf("after a message that follows the read: %+v", ns)
	}
}
