package realtime_test

import (
	"errors"
	"testing"

	"parley/internal/realtime"
)

// TestHubUsersPerApp checks that apps never share a user: the same user id
// on another app neither uses the messaging app's per-user quota nor shows
// up among its clients, and terminating one app's user leaves the other
// app's connections alone.
func TestHubUsersPerApp(t *testing.T) {
	h := realtime.NewHub(realtime.HubConfig{MaxClientsPerUser: 2})
	var other []*realtime.Client
	for range 2 {
		c, err := h.ConnectApp("b")
		if err != nil {
			t.Fatal(err)
		}
		if err := h.BindUser(c, "42"); err != nil {
			t.Fatalf("app b, user 42: %v", err)
		}
		other = append(other, c)
	}
	own := hubClient(t, h, "42") // fails when app b's sockets used user 42's quota
	if got := h.ClientsOf("42"); len(got) != 1 || got[0] != own {
		t.Fatalf("ClientsOf(42) on the messaging app = %d clients, want only its own", len(got))
	}
	if c, err := h.ConnectApp("b"); err != nil {
		t.Fatal(err)
	} else if err := h.BindUser(c, "42"); !errors.Is(err, realtime.ErrOverQuota) {
		t.Fatalf("third socket of app b's user 42: %v, want ErrOverQuota", err)
	}
	if n := h.Terminate("b", "42"); n != 2 {
		t.Fatalf("Terminate(b, 42) ended %d clients, want 2", n)
	}
	for _, c := range other {
		if c.Reason() != realtime.ReasonTerminated {
			t.Fatalf("app b's client: reason %q", c.Reason())
		}
	}
	select {
	case <-own.Done():
		t.Fatal("terminating app b's user 42 ended the messaging app's user 42")
	default:
	}
	for _, c := range other {
		h.Disconnect(c)
	}
	if n := h.Terminate("", "42"); n != 1 || own.Reason() != realtime.ReasonTerminated {
		t.Fatalf("Terminate(\"\", 42) ended %d clients, reason %q", n, own.Reason())
	}
}
