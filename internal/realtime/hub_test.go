package realtime_test

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"parley/engine"
	"parley/internal/realtime"
)

func hubClient(t testing.TB, h *realtime.Hub, user string, channels ...string) *realtime.Client {
	t.Helper()
	c, err := h.Connect()
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		if err := h.BindUser(c, user); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range channels {
		if err := h.Subscribe(c, ch, nil); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestHubSlowConsumerIsDropped checks that a subscriber that does not drain
// its bounded queue is dropped while the others get everything, and that
// publishing never waits for it.
func TestHubSlowConsumerIsDropped(t *testing.T) {
	h := realtime.NewHub(realtime.HubConfig{Buffer: 4})
	slow := hubClient(t, h, "slow", "c")
	fast := hubClient(t, h, "fast", "c")
	start := time.Now()
	for i := 1; i <= 20; i++ {
		h.Publish(&realtime.Frame{Channel: "c", Event: "e", Seq: uint64(i)})
		if f := fast.Next(); f == nil || f.Seq != uint64(i) {
			t.Fatalf("fast client got %+v, want seq %d", f, i)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("publishing 20 frames took %v", d)
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("the slow client was not dropped")
	}
	if slow.Reason() != realtime.ReasonSlowConsumer || h.Stats().SlowDrops != 1 {
		t.Fatalf("reason %q, drops %d", slow.Reason(), h.Stats().SlowDrops)
	}
	if n := slow.Pending(); n != 4 {
		t.Fatalf("the dropped client holds %d frames, want its buffer of 4", n)
	}
	h.Disconnect(slow)
	if st := h.Stats(); st.Connections != 1 || st.Users != 1 {
		t.Fatalf("after disconnect: %+v", st)
	}
}

// TestHubLimitsAndExclusions checks capacity, per-user quota, per-client
// channel limit, user binding and the Except filters.
func TestHubLimitsAndExclusions(t *testing.T) {
	h := realtime.NewHub(realtime.HubConfig{MaxClients: 3, MaxClientsPerUser: 2, MaxChannels: 2})
	a1 := hubClient(t, h, "a", "x", "y")
	if err := h.Subscribe(a1, "z", nil); !errors.Is(err, realtime.ErrTooManyChannels) {
		t.Fatalf("third channel: %v", err)
	}
	if err := h.Subscribe(a1, "x", nil); !errors.Is(err, realtime.ErrAlreadySubscribed) {
		t.Fatalf("resubscribe: %v", err)
	}
	if err := h.BindUser(a1, "b"); !errors.Is(err, realtime.ErrUserMismatch) {
		t.Fatalf("rebind: %v", err)
	}
	a2 := hubClient(t, h, "a", "x")
	a3, _ := h.Connect()
	if err := h.BindUser(a3, "a"); !errors.Is(err, realtime.ErrOverQuota) {
		t.Fatalf("third connection of a: %v", err)
	}
	if _, err := h.Connect(); !errors.Is(err, realtime.ErrOverCapacity) {
		t.Fatalf("fourth connection: %v", err)
	}
	if n := h.Publish(&realtime.Frame{Channel: "x", ExceptClient: a1.ID()}); n != 1 {
		t.Fatalf("except client: delivered %d, want 1", n)
	}
	if n := h.Publish(&realtime.Frame{Channel: "x", ExceptUser: "a"}); n != 0 {
		t.Fatalf("except user: delivered %d, want 0", n)
	}
	h.UnsubscribeUser("a", "x")
	if h.Has("x") || !h.Has("y") {
		t.Fatal("UnsubscribeUser left x or removed y")
	}
	h.Close()
	<-a2.Done()
	if a2.Reason() != realtime.ReasonShutdown {
		t.Fatalf("reason after Close: %q", a2.Reason())
	}
}

// TestChannelRules checks channel name parsing.
func TestChannelRules(t *testing.T) {
	id := "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	for _, tc := range []struct {
		name string
		kind engine.ChannelKind
		err  bool
	}{
		{"private-conversation." + id, engine.ChannelConversation, false},
		{"presence-conversation." + id, engine.ChannelPresenceConversation, false},
		{"private-user.alice@example.com", engine.ChannelUser, false},
		{"presence-messaging", engine.ChannelPresenceMessaging, false},
		{"private-conversation.nope", engine.ChannelOtherPrivate, false},
		{"lobby", engine.ChannelPublic, false},
		{"#inbox.alice", 0, true},
		{"", 0, true},
		{"has space", 0, true},
	} {
		ch, err := engine.ParseChannel(tc.name)
		if (err != nil) != tc.err || (!tc.err && ch.Kind != tc.kind) {
			t.Errorf("%q: kind %v err %v, want %v err %v", tc.name, ch.Kind, err, tc.kind, tc.err)
		}
	}
	data, ok := realtime.WithUserID(json.RawMessage(`{"user_id":"mallory","typing":true}`), "alice")
	if !ok || string(data) != `{"typing":true,"user_id":"alice"}` {
		t.Fatalf("WithUserID = %s", data)
	}
	if _, ok := realtime.WithUserID(json.RawMessage(`[1]`), "alice"); ok {
		t.Fatal("WithUserID accepted an array")
	}
}

// BenchmarkHubPublish1000 measures one publish to 1,000 subscribers of a
// channel, each drained by its own goroutine.
func BenchmarkHubPublish1000(b *testing.B) {
	h := realtime.NewHub(realtime.HubConfig{Buffer: 1024, MaxClients: 2000})
	stop := make(chan struct{})
	var drains sync.WaitGroup
	defer func() { close(stop); drains.Wait() }() // no drain outlives the benchmark
	for i := 0; i < 1000; i++ {
		c := hubClient(b, h, "", "room")
		wake := make(chan struct{}, 1)
		c.Notify(func() {
			select {
			case wake <- struct{}{}:
			default:
			}
		})
		drains.Add(1)
		go func() {
			defer drains.Done()
			for {
				select {
				case <-stop:
					return
				case <-wake:
					for c.Next() != nil {
					}
				}
			}
		}()
	}
	f := &realtime.Frame{Channel: "room", Event: "message.sent", Data: json.RawMessage(`{"seq":1}`)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.Publish(f)
	}
	b.StopTimer()
	if d := h.Stats().SlowDrops; d > 0 {
		b.Logf("%d slow drops", d)
	}
}
