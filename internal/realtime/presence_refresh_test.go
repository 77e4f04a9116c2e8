package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"parley/engine"
	"sync"
	"testing"
	"time"
)

// refreshStore is a presence store whose puts, once refreshing starts,
// wait until released, so a test can see how many are in flight at once.
type refreshStore struct {
	mu         sync.Mutex
	refreshing bool
	inflight   int
	peak       int
	release    chan struct{}
}

func (s *refreshStore) Put(ctx context.Context, l Lease, info json.RawMessage) error {
	s.mu.Lock()
	if !s.refreshing {
		s.mu.Unlock()
		return nil
	}
	s.inflight++
	s.peak = max(s.peak, s.inflight)
	s.mu.Unlock()
	select {
	case <-s.release:
	case <-ctx.Done():
	}
	s.mu.Lock()
	s.inflight--
	s.mu.Unlock()
	return nil
}

func (s *refreshStore) Delete(context.Context, Lease) error { return nil }

func (s *refreshStore) Watch(ctx context.Context, fn func(PresenceChange), synced func()) error {
	synced()
	<-ctx.Done()
	return ctx.Err()
}

// A node refreshes its leases several at a time: a round of thousands of
// slow puts one after another could outlast the TTL.
func TestPresenceRefreshesLeasesInParallel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := &refreshStore{release: make(chan struct{})}
	hub := NewHub(HubConfig{})
	p := NewPresence(store, hub, PresenceConfig{TTL: 300 * time.Millisecond})
	go func() { _ = p.Run(ctx) }()
	<-p.Synced()
	for i := range 256 {
		user := fmt.Sprint("u", i)
		c, err := hub.Connect()
		if err != nil {
			t.Fatal(err)
		}
		if err := hub.BindUser(c, user); err != nil {
			t.Fatal(err)
		}
		if err := p.Join(ctx, c, engine.PresenceMessaging, Member{UserID: user, Info: json.RawMessage(`{}`)},
			func([]Member) *Frame { return &Frame{Event: "ack"} }); err != nil {
			t.Fatal(err)
		}
	}
	store.mu.Lock()
	store.refreshing = true
	store.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		store.mu.Lock()
		peak := store.peak
		store.mu.Unlock()
		if peak >= 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("at most %d lease refreshes in flight at once, want several (bound %d)", peak, refreshParallel)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(store.release)
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.peak > refreshParallel {
		t.Fatalf("%d refreshes in flight, bound %d", store.peak, refreshParallel)
	}
}
