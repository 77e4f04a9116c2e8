package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"parley/engine"
)

// Group commit: the appends to one stream that arrive together are
// published as one atomic batch, which JetStream stores with one fsync
// (with SyncAlways a lone publish fsyncs on its own). One batch is in flight
// at a time; the appends that arrive meanwhile wait in a bounded queue and
// form the next one. Nothing waits for company: a lone append is published
// at once, as a plain publish, so a light load is not delayed, and a heavy
// one finds its batches already formed.
//
// Idempotency survives batching. A duplicate Nats-Msg-Id rejects a whole
// atomic batch (10201) instead of answering with the original's sequence,
// so the committer finds duplicates before it publishes: a key repeated in
// the batch is published once and answered to every request that carries
// it; a key this committer stored recently is answered from memory with
// its sequence, as JetStream's duplicate ack would. Whatever still gets a
// batch refused (a key another node stored, a full store) is published one
// by one, each request getting its own answer; a batch whose outcome is
// unknown (no ack in time) is reported to each request as a failed append,
// as a lone publish would be, and the clients' retries with the same keys
// store nothing twice.

// The bounds of a batch and of the queue in front of it.
const (
	// MaxBatchEvents bounds one atomic batch (JetStream allows 1,000).
	MaxBatchEvents = 256
	// maxBatchBytes bounds one batch's payload.
	maxBatchBytes = 4 << 20
	// commitQueue bounds the appends waiting for the batch in flight; an
	// append that finds it full waits for room (or its context).
	commitQueue = 4096
	// recentKeys is how many recently stored Msg-Ids a committer remembers.
	recentKeys = 16384
)

// errAtomicDisabled is JetStream's answer to a batch on a stream that does
// not allow atomic publishes (an external server's stream made elsewhere).
const errAtomicDisabled = 10174

// errCommitterClosed answers appends queued when the connection closes.
var errCommitterClosed = errors.New("log closed")

// committer coalesces one stream's appends into atomic batches.
type committer struct {
	js      jetstream.JetStream
	stream  string
	timeout func() time.Duration // bounds one publish's wait for its ack
	logger  *slog.Logger

	queue    chan *pendingAppend
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	batching atomic.Bool // off after the stream refused atomic batches
	recent   recentIDs
	stats    commitStats
}

// pendingAppend is one append waiting for its batch.
type pendingAppend struct {
	subject string
	typ     engine.EventType
	raw     []byte
	key     string
	queued  time.Time
	done    chan appendResult // buffered: the committer never blocks on it
}

type appendResult struct {
	seq uint64
	dup bool
	err error
}

func newCommitter(js jetstream.JetStream, stream string, window time.Duration, timeout func() time.Duration) *committer {
	c := &committer{js: js, stream: stream, timeout: timeout, logger: slog.Default().With("component", "group-commit", "stream", stream),
		queue: make(chan *pendingAppend, commitQueue), stop: make(chan struct{}), done: make(chan struct{})}
	c.batching.Store(true)
	c.recent.init(recentKeys, window)
	c.stats.start = time.Now()
	go c.run()
	return c
}

// append queues one event and waits for its batch's answer.
func (c *committer) append(ctx context.Context, subject string, typ engine.EventType, raw []byte, key string) (uint64, bool, error) {
	if key != "" {
		if seq, ok := c.recent.get(key); ok {
			c.stats.remembered.Add(1)
			return seq, true, nil
		}
	}
	p := &pendingAppend{subject: subject, typ: typ, raw: raw, key: key, queued: time.Now(), done: make(chan appendResult, 1)}
	select {
	case c.queue <- p:
	case <-ctx.Done():
		return 0, false, fmt.Errorf("append %s: %w", subject, ctx.Err())
	case <-c.stop:
		return 0, false, fmt.Errorf("append %s: %w", subject, errCommitterClosed)
	}
	select {
	case r := <-p.done:
		return r.seq, r.dup, r.err
	case <-ctx.Done():
		// The event may still be stored: as with a publish whose ack did
		// not come in time, the client's retry (same key) finds it.
		return 0, false, fmt.Errorf("append %s: %w", subject, ctx.Err())
	}
}

// close stops the committer after the batch in flight; appends still
// queued are answered with an error.
func (c *committer) close() {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
}

func (c *committer) run() {
	defer close(c.done)
	batch := make([]*pendingAppend, 0, MaxBatchEvents)
	for {
		select {
		case p := <-c.queue:
			batch = append(batch[:0], p)
		case <-c.stop:
			c.failQueued()
			return
		}
		size := len(batch[0].raw)
	fill:
		for len(batch) < MaxBatchEvents && size < maxBatchBytes {
			select {
			case p := <-c.queue:
				batch = append(batch, p)
				size += len(p.raw)
			default:
				break fill
			}
		}
		c.commit(batch)
		clear(batch)
	}
}

func (c *committer) failQueued() {
	for {
		select {
		case p := <-c.queue:
			p.done <- appendResult{err: fmt.Errorf("append %s: %w", p.subject, errCommitterClosed)}
		default:
			return
		}
	}
}

// commit publishes one batch and answers each of its appends.
func (c *committer) commit(batch []*pendingAppend) {
	// One publish per distinct key: the others are answered with its
	// sequence, as duplicates.
	unique := make([]*pendingAppend, 0, len(batch))
	var followers map[string][]*pendingAppend
	first := map[string]*pendingAppend{}
	for _, p := range batch {
		if p.key != "" {
			if seq, ok := c.recent.get(p.key); ok { // stored by an earlier batch
				c.stats.remembered.Add(1)
				c.answer(p, appendResult{seq: seq, dup: true})
				continue
			}
			if lead, ok := first[p.key]; ok {
				if followers == nil {
					followers = map[string][]*pendingAppend{}
				}
				followers[lead.key] = append(followers[lead.key], p)
				continue
			}
			first[p.key] = p
		}
		unique = append(unique, p)
	}
	if len(unique) == 0 {
		return
	}
	sent := time.Now()
	results := c.publish(unique)
	for i, p := range unique {
		r := results[i]
		if r.err == nil && p.key != "" {
			c.recent.put(p.key, r.seq, sent)
		}
		c.answer(p, r)
		for _, f := range followers[p.key] {
			if r.err == nil {
				c.answer(f, appendResult{seq: r.seq, dup: true})
			} else {
				c.answer(f, r)
			}
		}
	}
}

func (c *committer) answer(p *pendingAppend, r appendResult) {
	c.stats.waited(time.Since(p.queued))
	p.done <- r
}

// publish stores unique (no key twice) and returns each one's outcome.
func (c *committer) publish(unique []*pendingAppend) []appendResult {
	out := make([]appendResult, len(unique))
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout())
	defer cancel()
	if len(unique) == 1 || !c.batching.Load() {
		c.stats.batch(len(unique))
		for i, p := range unique {
			out[i] = c.single(ctx, p)
		}
		return out
	}
	msgs := make([]*nats.Msg, len(unique))
	for i, p := range unique {
		msgs[i] = eventMsg(p.subject, p.typ, p.raw, p.key)
	}
	ack, err := jetstreamext.PublishMsgBatch(ctx, c.js, msgs, jetstreamext.BatchFlowControl{AckFirst: false})
	if err == nil {
		if ack.BatchSize != uint64(len(unique)) || ack.Sequence < ack.BatchSize {
			err = fmt.Errorf("batch ack %+v for %d events", *ack, len(unique))
		} else {
			c.stats.batch(len(unique))
			base := ack.Sequence - ack.BatchSize + 1 // a batch's sequences are consecutive
			for i := range unique {
				out[i] = appendResult{seq: base + uint64(i)}
			}
			return out
		}
	}
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		// No answer in time, or the connection went: the batch may be
		// stored. Each append fails as a lone publish would, and the
		// clients' retries carry the same keys.
		for i, p := range unique {
			out[i] = appendResult{err: fmt.Errorf("append %s: %w", p.subject, err)}
		}
		return out
	}
	// The stream refused the whole batch, so none of it is stored: publish
	// one by one, each append getting its own answer (a duplicate its
	// original's sequence, a full store its refusal).
	if apiErr.ErrorCode == errAtomicDisabled && c.batching.CompareAndSwap(true, false) {
		c.logger.Warn("the stream does not allow atomic batches: publishing one by one (one fsync each)", "err", err)
	}
	c.stats.fallbacks.Add(1)
	c.stats.batch(len(unique))
	for i, p := range unique {
		out[i] = c.single(ctx, p)
	}
	return out
}

func (c *committer) single(ctx context.Context, p *pendingAppend) appendResult {
	seq, dup, err := publishMsg(ctx, c.js, eventMsg(p.subject, p.typ, p.raw, p.key), p.subject)
	return appendResult{seq: seq, dup: dup, err: err}
}

// eventMsg is one event's message: the envelope, its type in a header and
// its key as the Nats-Msg-Id.
func eventMsg(subject string, typ engine.EventType, raw []byte, key string) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = raw
	m.Header.Set(EventHeader, string(typ))
	if key != "" {
		m.Header.Set(jetstream.MsgIDHeader, key)
	}
	return m
}

// recentIDs remembers the sequences of the last n keys stored, oldest
// forgotten first: a bounded map beside a ring of its keys. A key is
// remembered no longer than the stream's duplicate window, so an append
// after the window is stored again, exactly as JetStream would store it
// (the projector then skips it as a duplicate).
type recentIDs struct {
	mu     sync.Mutex
	window time.Duration
	seqs   map[string]storedKey
	ring   []string
	next   int
}

type storedKey struct {
	seq uint64
	at  time.Time
}

func (r *recentIDs) init(n int, window time.Duration) {
	r.window = window
	r.seqs = make(map[string]storedKey, n)
	r.ring = make([]string, n)
}

func (r *recentIDs) get(key string) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.seqs[key]
	if !ok || time.Since(k.at) >= r.window {
		return 0, false
	}
	return k.seq, true
}

// put remembers key from the time its publish was sent (at), so the
// memory never outlasts JetStream's own.
func (r *recentIDs) put(key string, seq uint64, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.seqs[key]; ok {
		return
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.seqs, old)
	}
	r.ring[r.next] = key
	r.seqs[key] = storedKey{seq: seq, at: at}
	r.next = (r.next + 1) % len(r.ring)
}
