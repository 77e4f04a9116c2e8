package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSignIsHMACSHA256OfTheParts(t *testing.T) {
	mac := hmac.New(sha256.New, []byte("secret"))
	mac.Write([]byte("123.body"))
	want := hex.EncodeToString(mac.Sum(nil))
	if got := Sign([]byte("secret"), []byte("123"), []byte("."), []byte("body")); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestBackoffDoublesUpToMax(t *testing.T) {
	b := Backoff{Base: time.Second, Max: 5 * time.Second}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 5 * time.Second, 30: 5 * time.Second} {
		if got := b.Delay(n); got != want {
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestSenderPostsHeadersAndReportsFailures(t *testing.T) {
	var mu sync.Mutex
	var got http.Header
	status := http.StatusNoContent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Clone()
		code := status
		mu.Unlock()
		if code == http.StatusTeapot {
			http.Error(w, "  no tea  ", code)
			return
		}
		if code == http.StatusFound {
			http.Redirect(w, r, "/elsewhere", code)
			return
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	s := NewSender(time.Second)
	h := http.Header{}
	h.Set("X-Sig", "abc")
	if err := s.Post(context.Background(), srv.URL, []byte(`{}`), h); err != nil {
		t.Fatalf("2xx answer: %v", err)
	}
	mu.Lock()
	if got.Get("X-Sig") != "abc" || got.Get("Content-Type") != "application/json" {
		t.Fatalf("headers sent: %v", got)
	}
	status = http.StatusTeapot
	mu.Unlock()
	err := s.Post(context.Background(), srv.URL, []byte(`{}`), nil)
	if err == nil || !strings.Contains(err.Error(), "status 418: no tea") {
		t.Fatalf("418 answer: err = %v", err)
	}
	mu.Lock()
	status = http.StatusFound
	mu.Unlock()
	if err := s.Post(context.Background(), srv.URL, []byte(`{}`), nil); err == nil || !strings.Contains(err.Error(), "status 302") {
		t.Fatalf("a redirect is not followed: err = %v", err)
	}
}

func TestSenderTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	err := NewSender(50*time.Millisecond).Post(context.Background(), srv.URL, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "timeout after 50ms") {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

func TestQueueDropsPastItsBounds(t *testing.T) {
	q := NewQueue(QueueConfig{Len: 2, Bytes: 100}, func(s string) int64 { return int64(len(s)) },
		func(context.Context, Batch[string]) error { return nil }, nil)
	if !q.Offer("a") || !q.Offer("b") {
		t.Fatal("the first two items are refused")
	}
	if q.Offer("c") {
		t.Fatal("a third item fits a queue of two")
	}
	q2 := NewQueue(QueueConfig{Len: 10, Bytes: 10}, func(s string) int64 { return int64(len(s)) },
		func(context.Context, Batch[string]) error { return nil }, nil)
	if !q2.Offer("12345678") || q2.Offer("123") {
		t.Fatal("the byte bound does not hold")
	}
	if q.Enqueued.Load() != 2 || q.Dropped.Load() != 1 || q2.Dropped.Load() != 1 {
		t.Fatalf("counters: enqueued %d dropped %d/%d", q.Enqueued.Load(), q.Dropped.Load(), q2.Dropped.Load())
	}
}

func TestQueueBatchesRetriesAndBuriesTheDead(t *testing.T) {
	type call struct {
		batch   []string
		attempt int
	}
	calls := make(chan call, 16)
	deadc := make(chan []string, 1)
	q := NewQueue(QueueConfig{Batch: 3, Linger: 20 * time.Millisecond, Retry: Backoff{Base: time.Millisecond, Max: 2 * time.Millisecond}, MaxAttempts: 3},
		func(s string) int64 { return int64(len(s)) },
		func(_ context.Context, b Batch[string]) error {
			calls <- call{append([]string(nil), b.Items...), b.Attempt}
			if b.Items[0] == "fail" {
				return context.DeadlineExceeded
			}
			return nil
		},
		func(b []string, attempts int, err error) {
			if attempts != 3 || err == nil {
				t.Errorf("dead after %d attempts, err %v", attempts, err)
			}
			deadc <- b
		})
	for _, s := range []string{"a", "b", "c", "d"} {
		q.Offer(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)
	next := func() call {
		select {
		case c := <-calls:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("no delivery within 5s")
		}
		return call{}
	}
	if c := next(); strings.Join(c.batch, ",") != "a,b,c" || c.attempt != 1 {
		t.Fatalf("first batch %v attempt %d", c.batch, c.attempt)
	}
	if c := next(); strings.Join(c.batch, ",") != "d" {
		t.Fatalf("second batch %v", c.batch)
	}
	q.Offer("fail")
	for want := 1; want <= 3; want++ {
		if c := next(); c.batch[0] != "fail" || c.attempt != want {
			t.Fatalf("retry %d: %+v", want, c)
		}
	}
	select {
	case b := <-deadc:
		if len(b) != 1 || b[0] != "fail" {
			t.Fatalf("dead batch %v", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the failing batch never went dead")
	}
	if q.Failed.Load() != 3 {
		t.Fatalf("failed attempts = %d, want 3", q.Failed.Load())
	}
}
