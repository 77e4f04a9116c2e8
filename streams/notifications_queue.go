package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"parley/internal/notify"
	"parley/internal/webhook"
)

// Durable consumer names. They are API: renaming one creates a new consumer
// that starts at the stream's end, so the jobs pending on the old one are
// never done (and the old one stays until deleted).
const (
	// NotifyConsumer reads MESSAGES and makes the notifications.
	NotifyConsumer = "notifications"
	// WebhookConsumer reads NOTIFICATIONS and delivers webhooks.
	WebhookConsumer = "webhooks"
)

// WorkConfig shapes a shared work queue: one durable pull consumer that
// every node pulls from, so each job is handled by one node at a time.
type WorkConfig struct {
	Stream        string
	Durable       string
	FilterSubject string
	// MaxAttempts bounds the deliveries of one job (default 10); after the
	// last failed attempt the handler's Dead runs and the job is terminated.
	MaxAttempts int
	// RetryBase is the delay before the second attempt (default 1s); each
	// further attempt waits twice as long, up to RetryMax (default 5m).
	RetryBase, RetryMax time.Duration
	// AckWait is how long a delivered job may stay unanswered before the
	// server hands it out again (default 30s). A handler gets at most 80% of
	// it.
	AckWait time.Duration
	// Workers is the number of jobs this node runs at once (default 4); it
	// also bounds the jobs this node holds buffered.
	Workers int
	// MaxAckPending bounds the jobs in flight across all nodes, retries
	// waiting for their delay included (default 1000).
	MaxAckPending int
	Logger        *slog.Logger
}

func (c WorkConfig) withDefaults() WorkConfig {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	if c.RetryBase <= 0 {
		c.RetryBase = time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 5 * time.Minute
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.Default().With("component", "work", "consumer", c.Durable)
	}
	return c
}

// Backoff is the delay before the attempt after attempt n (1-based).
func (c WorkConfig) Backoff(n int) time.Duration {
	return webhook.Backoff{Base: c.RetryBase, Max: c.RetryMax}.Delay(n)
}

// WorkQueue runs a handler over a shared durable consumer: ack after the
// handler succeeded, nak with a growing delay when it failed, terminate and
// count as dead after the last attempt.
type WorkQueue struct {
	cfg     WorkConfig
	cons    jetstream.Consumer
	handler notify.WorkHandler

	acked, retried, dead atomic.Uint64
	extended             atomic.Uint64 // jobs marked in progress before their handling (Stats)
}

// WorkQueueStats are a queue's counters on this node.
type WorkQueueStats struct {
	Acked   uint64 `json:"acked"`
	Retried uint64 `json:"retried"`
	Dead    uint64 `json:"dead"`
	// Extended counts the jobs handled more than a tenth of the ack wait
	// after their fetch began, which were marked in progress first.
	Extended uint64 `json:"extended"`
}

// WorkQueue creates (or updates) the durable consumer. A consumer made
// afresh starts at the stream's end: the jobs are the events appended from
// then on.
func (c *Conn) WorkQueue(ctx context.Context, cfg WorkConfig, h notify.WorkHandler) (*WorkQueue, error) {
	cfg = cfg.withDefaults()
	var cons jetstream.Consumer
	err := c.retry(ctx, "consumer "+cfg.Durable, func() (err error) {
		cons, err = c.js.CreateOrUpdateConsumer(ctx, cfg.Stream, jetstream.ConsumerConfig{
			Durable:       cfg.Durable,
			Description:   "parley shared work queue",
			FilterSubject: cfg.FilterSubject,
			DeliverPolicy: jetstream.DeliverNewPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       cfg.AckWait,
			// A backstop only: the handler terminates a job at MaxAttempts.
			MaxDeliver:    cfg.MaxAttempts + 2,
			MaxAckPending: cfg.MaxAckPending,
			MaxWaiting:    64,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("consumer %s/%s: %w", cfg.Stream, cfg.Durable, err)
	}
	return &WorkQueue{cfg: cfg, cons: cons, handler: h}, nil
}

// Stats returns the queue's counters on this node.
func (q *WorkQueue) Stats() WorkQueueStats {
	return WorkQueueStats{Acked: q.acked.Load(), Retried: q.retried.Load(), Dead: q.dead.Load(), Extended: q.extended.Load()}
}

// job is a fetched message and when its fetch began.
type job struct {
	m       jetstream.Msg
	fetched time.Time
}

// Run pulls and handles jobs until ctx ends, then waits for the jobs in hand.
func (q *WorkQueue) Run(ctx context.Context) error {
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range q.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				q.handle(ctx, j)
			}
		}()
	}
	defer wg.Wait()
	defer close(jobs)
	for ctx.Err() == nil {
		// One pull request at a time, for as many jobs as there are workers.
		// (A long-lived Messages iterator could lose track of its pull
		// request under load and idle until the request expired, 30 s, with
		// jobs pending.)
		fetched := time.Now()
		batch, err := q.cons.Fetch(q.cfg.Workers, jetstream.FetchMaxWait(fetchWait))
		if err != nil {
			q.cfg.Logger.Warn("pull", "err", err)
			if !sleepCtx(ctx, time.Second) {
				return nil
			}
			continue
		}
		if !q.feed(ctx, batch.Messages(), fetched, jobs) {
			return nil
		}
		if err := batch.Error(); err != nil && ctx.Err() == nil {
			q.cfg.Logger.Debug("pull", "err", err)
			pause := 100 * time.Millisecond
			if errors.Is(err, jetstream.ErrConsumerDeleted) {
				pause = time.Second // pull again, as the failed-Fetch path does
			}
			if !sleepCtx(ctx, pause) {
				return nil
			}
		}
	}
	return nil
}

// feed hands the fetched jobs to the workers until the fetch ends (true) or
// ctx does (false). Jobs fetched but not handed on are redelivered after
// AckWait.
func (q *WorkQueue) feed(ctx context.Context, msgs <-chan jetstream.Msg, fetched time.Time, jobs chan<- job) bool {
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				return true
			}
			if !q.handOff(ctx, job{m: m, fetched: fetched}, jobs) {
				_ = m.Nak()
				return false
			}
		case <-ctx.Done():
			return false
		}
	}
}

// handOff waits until a worker takes j (true) or ctx ends (false). While it
// waits, the job tells the server every tenth of the ack wait since its
// fetch that it is in progress, so a job behind busy workers is never
// handed out again meanwhile.
func (q *WorkQueue) handOff(ctx context.Context, j job, jobs chan<- job) bool {
	select {
	case jobs <- j: // a worker was waiting
		return true
	default:
	}
	every := q.cfg.AckWait / inProgressAfter
	t := time.NewTimer(max(0, every-time.Since(j.fetched)))
	defer t.Stop()
	for {
		select {
		case jobs <- j:
			return true
		case <-ctx.Done():
			return false
		case <-t.C:
			_ = j.m.InProgress()
			t.Reset(every)
		}
	}
}

// fetchWait is how long one pull request waits for jobs; it also bounds how
// long Run takes to notice that its context ended.
const fetchWait = time.Second

// inProgressAfter: a job handled more than AckWait over this after its
// fetch began tells the server it is in progress before it is handled (the
// handler may take 80 % of AckWait), and one waiting for a worker tells it
// that as often. One handled sooner is handled well inside its ack wait,
// and is spared the extra message.
const inProgressAfter = 10

func (q *WorkQueue) handle(ctx context.Context, j job) {
	m := j.m
	md, err := m.Metadata()
	if err != nil {
		_ = m.Term()
		return
	}
	if time.Since(j.fetched) > q.cfg.AckWait/inProgressAfter {
		// The job waited long enough since its fetch that its handling
		// might outlast the ack wait: the server's clock for it starts
		// again.
		_ = m.InProgress()
		q.extended.Add(1)
	}
	attempt := int(md.NumDelivered)
	ev := decode(m.Data(), md.Sequence.Stream)
	hctx, cancel := context.WithTimeout(ctx, q.cfg.AckWait*8/10)
	err = q.handler.Handle(hctx, ev, attempt)
	cancel()
	actx, acancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer acancel()
	switch {
	case err == nil:
		if aerr := m.DoubleAck(actx); aerr != nil {
			q.cfg.Logger.Warn("ack", "seq", ev.Seq, "err", aerr)
			return
		}
		q.acked.Add(1)
	case ctx.Err() != nil:
		_ = m.Nak() // shutting down: let another node have it now
	case attempt >= q.cfg.MaxAttempts:
		q.dead.Add(1)
		q.handler.Dead(actx, ev, attempt, err)
		_ = m.TermWithReason("parley: max attempts")
	default:
		q.cfg.Logger.Debug("job failed; retrying", "seq", ev.Seq, "attempt", attempt, "err", err)
		q.retried.Add(1)
		_ = m.NakWithDelay(q.cfg.Backoff(attempt))
	}
}

// sleepCtx waits d or until ctx ends; false when ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
