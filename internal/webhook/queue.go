package webhook

import (
	"context"
	"sync/atomic"
	"time"
)

// QueueConfig bounds and shapes a Queue; zero values take the defaults.
type QueueConfig struct {
	// Len bounds the items waiting (default 10,000) and Bytes their size
	// (default 16 MiB); an item past either is dropped and counted.
	Len   int
	Bytes int64
	// Batch is the most items one delivery carries (default 100); Linger is
	// how long a batch waits for more (default 50ms).
	Batch  int
	Linger time.Duration
	// Retry is the delay between a batch's attempts (defaults 2s doubling to
	// 1m); MaxAttempts bounds them (default 8).
	Retry       Backoff
	MaxAttempts int
}

func (c QueueConfig) withDefaults() QueueConfig {
	if c.Len <= 0 {
		c.Len = 10000
	}
	if c.Bytes <= 0 {
		c.Bytes = 16 << 20
	}
	if c.Batch <= 0 {
		c.Batch = 100
	}
	if c.Linger <= 0 {
		c.Linger = 50 * time.Millisecond
	}
	if c.Retry.Base <= 0 {
		c.Retry.Base = 2 * time.Second
	}
	if c.Retry.Max < c.Retry.Base {
		c.Retry.Max = max(time.Minute, c.Retry.Base)
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	return c
}

// Batch is what one delivery attempt carries.
type Batch[T any] struct {
	Items []T
	// Formed is when the batch was gathered; the same on every attempt.
	Formed time.Time
	// Attempt counts from 1.
	Attempt int
}

// Deliver makes one attempt at a batch.
type Deliver[T any] func(ctx context.Context, b Batch[T]) error

// Dead receives a batch whose every attempt failed, with the last error.
type Dead[T any] func(batch []T, attempts int, err error)

// Queue is a bounded in-memory queue in front of one webhook receiver: Offer
// never blocks, Run drains it in batches and retries each batch with the
// backoff until it is delivered or dead. Delivery is at least once per batch
// and best effort overall: the queue lives in this process's memory.
type Queue[T any] struct {
	cfg     QueueConfig
	size    func(T) int64
	deliver Deliver[T]
	dead    Dead[T]
	ch      chan T
	bytes   atomic.Int64 // size of the items in ch

	// Counters: items accepted, items dropped at the door, failed attempts.
	Enqueued, Dropped, Failed atomic.Uint64
}

// NewQueue returns a queue; size estimates what an item takes in memory and
// in a request body.
func NewQueue[T any](cfg QueueConfig, size func(T) int64, deliver Deliver[T], dead Dead[T]) *Queue[T] {
	cfg = cfg.withDefaults()
	return &Queue[T]{cfg: cfg, size: size, deliver: deliver, dead: dead, ch: make(chan T, cfg.Len)}
}

// Offer queues item without blocking; it reports false (and counts a drop)
// when the queue is full by count or by size.
func (q *Queue[T]) Offer(item T) bool {
	n := q.size(item)
	if q.bytes.Add(n) > q.cfg.Bytes {
		q.bytes.Add(-n)
		q.Dropped.Add(1)
		return false
	}
	select {
	case q.ch <- item:
		q.Enqueued.Add(1)
		return true
	default:
		q.bytes.Add(-n)
		q.Dropped.Add(1)
		return false
	}
}

// Run delivers until ctx ends; items still queued then are lost.
func (q *Queue[T]) Run(ctx context.Context) {
	for {
		batch, ok := q.next(ctx)
		if !ok {
			return
		}
		q.send(ctx, Batch[T]{Items: batch, Formed: time.Now()})
	}
}

// next waits for an item, then gathers more for up to Linger.
func (q *Queue[T]) next(ctx context.Context) ([]T, bool) {
	var first T
	select {
	case <-ctx.Done():
		return nil, false
	case first = <-q.ch:
	}
	q.bytes.Add(-q.size(first))
	batch := []T{first}
	linger := time.NewTimer(q.cfg.Linger)
	defer linger.Stop()
	for len(batch) < q.cfg.Batch {
		select {
		case it := <-q.ch:
			q.bytes.Add(-q.size(it))
			batch = append(batch, it)
		case <-linger.C:
			return batch, true
		case <-ctx.Done():
			return nil, false
		}
	}
	return batch, true
}

// send attempts a batch until it is delivered, dead, or ctx ends.
func (q *Queue[T]) send(ctx context.Context, b Batch[T]) {
	for b.Attempt = 1; ; b.Attempt++ {
		err := q.deliver(ctx, b)
		if err == nil {
			return
		}
		q.Failed.Add(1)
		if b.Attempt >= q.cfg.MaxAttempts {
			if q.dead != nil {
				q.dead(b.Items, b.Attempt, err)
			}
			return
		}
		t := time.NewTimer(q.cfg.Retry.Delay(b.Attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
