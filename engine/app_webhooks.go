package engine

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Pusher webhook names.
const (
	HookChannelOccupied = "channel_occupied"
	HookChannelVacated  = "channel_vacated"
	HookMemberAdded     = "member_added"
	HookMemberRemoved   = "member_removed"
	HookClientEvent     = "client_event"
)

// Pusher webhook headers: the app key, and hex(HMAC-SHA256(secret, body)).
const (
	PusherKeyHeader       = "X-Pusher-Key"
	PusherSignatureHeader = "X-Pusher-Signature"
)

// AppHookEvent is one event of a Pusher webhook body.
type AppHookEvent struct {
	Name     string `json:"name"`
	Channel  string `json:"channel"`
	UserID   string `json:"user_id,omitempty"`
	Event    string `json:"event,omitempty"`
	Data     string `json:"data,omitempty"`
	SocketID string `json:"socket_id,omitempty"`
}

// AppHookBody is a Pusher webhook request body.
type AppHookBody struct {
	TimeMs int64          `json:"time_ms"`
	Events []AppHookEvent `json:"events"`
}

// SignPusherWebhook is the X-Pusher-Signature of body.
func SignPusherWebhook(secret []byte, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// AppHookTarget is where one app's webhooks go.
type AppHookTarget struct {
	AppID  string
	Key    string
	Secret []byte
	URLs   []string
}

// AppWebhooksConfig tunes the sender; zero values take the defaults.
type AppWebhooksConfig struct {
	// Queue bounds the events waiting per URL (default 10,000) and
	// QueueBytes their size (default 16 MiB; client events carry up to a
	// socket message each); events past either are dropped and counted.
	Queue      int
	QueueBytes int64
	// Batch is the most events one request carries (default 100).
	Batch int
	// Linger is how long a batch waits for more events (default 50ms).
	Linger time.Duration
	// Timeout bounds one attempt (default 5s).
	Timeout time.Duration
	// RetryBase is the delay before the second attempt; it doubles up to
	// RetryMax (defaults 2s, 1m).
	RetryBase, RetryMax time.Duration
	// MaxAttempts bounds the attempts of one batch (default 8); a batch
	// that fails them all is dropped and counted dead.
	MaxAttempts int
	Logger      *slog.Logger
}

func (c AppWebhooksConfig) withDefaults() AppWebhooksConfig {
	if c.Queue <= 0 {
		c.Queue = 10000
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = 16 << 20
	}
	if c.Batch <= 0 {
		c.Batch = 100
	}
	if c.Linger <= 0 {
		c.Linger = 50 * time.Millisecond
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 2 * time.Second
	}
	if c.RetryMax < c.RetryBase {
		c.RetryMax = max(time.Minute, c.RetryBase)
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.Logger == nil {
		c.Logger = slog.Default().With("component", "app-webhooks")
	}
	return c
}

// AppWebhooks sends Pusher-format webhooks: per URL one goroutine drains a
// bounded queue, batches what is there, signs it and retries failures with
// a doubling delay. Enqueue never blocks: realtime delivery does not wait
// on a receiver. Delivery is at least once per batch and best effort overall
// (the queue lives in this node's memory).
type AppWebhooks struct {
	cfg    AppWebhooksConfig
	client *http.Client
	hooks  map[string][]*hookQueue // app id -> one queue per URL

	enqueued, sent, failed, dropped, dead atomic.Uint64
}

type hookQueue struct {
	target AppHookTarget
	url    string
	ch     chan AppHookEvent
	bytes  atomic.Int64 // size of the events in ch
}

// size is about what an event takes in a queue and in a request body.
func (ev AppHookEvent) size() int64 {
	return int64(len(ev.Name) + len(ev.Channel) + len(ev.UserID) + len(ev.Event) + len(ev.Data) + len(ev.SocketID) + 64)
}

// AppWebhookStats are the sender's counters.
type AppWebhookStats struct {
	Enqueued uint64 `json:"enqueued"`
	Sent     uint64 `json:"sent"`
	Failed   uint64 `json:"failed"`
	Dropped  uint64 `json:"dropped"`
	Dead     uint64 `json:"dead"`
	// ExpiredDropped counts webhooks of expired leases (a crashed node's)
	// this node did not offer or claim: its claim queue was full, or the
	// claim failed. The node fills it in; AppWebhooks leaves it 0.
	ExpiredDropped uint64 `json:"expired_dropped"`
}

// NewAppWebhooks returns a sender for the targets with URLs; Run starts it.
func NewAppWebhooks(targets []AppHookTarget, cfg AppWebhooksConfig) *AppWebhooks {
	cfg = cfg.withDefaults()
	w := &AppWebhooks{cfg: cfg, hooks: map[string][]*hookQueue{}, client: &http.Client{Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	for _, t := range targets {
		for _, u := range t.URLs {
			w.hooks[t.AppID] = append(w.hooks[t.AppID], &hookQueue{target: t, url: u, ch: make(chan AppHookEvent, cfg.Queue)})
		}
	}
	return w
}

// Wants reports whether the app has any webhook URL.
func (w *AppWebhooks) Wants(appID string) bool { return w != nil && len(w.hooks[appID]) > 0 }

// Enqueue queues an event for every URL of the app without blocking; a full
// queue drops it (counted).
func (w *AppWebhooks) Enqueue(appID string, ev AppHookEvent) {
	if w == nil {
		return
	}
	n := ev.size()
	for _, q := range w.hooks[appID] {
		if q.bytes.Add(n) > w.cfg.QueueBytes {
			q.bytes.Add(-n)
			w.dropped.Add(1)
			continue
		}
		select {
		case q.ch <- ev:
			w.enqueued.Add(1)
		default:
			q.bytes.Add(-n)
			w.dropped.Add(1)
		}
	}
}

// Stats returns the counters.
func (w *AppWebhooks) Stats() AppWebhookStats {
	if w == nil {
		return AppWebhookStats{}
	}
	return AppWebhookStats{Enqueued: w.enqueued.Load(), Sent: w.sent.Load(), Failed: w.failed.Load(),
		Dropped: w.dropped.Load(), Dead: w.dead.Load()}
}

// Run sends until ctx ends; events still queued then are lost.
func (w *AppWebhooks) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, qs := range w.hooks {
		for _, q := range qs {
			wg.Add(1)
			go func() { defer wg.Done(); w.drain(ctx, q) }()
		}
	}
	wg.Wait()
}

func (w *AppWebhooks) drain(ctx context.Context, q *hookQueue) {
	for {
		var first AppHookEvent
		select {
		case <-ctx.Done():
			return
		case first = <-q.ch:
		}
		q.bytes.Add(-first.size())
		batch := []AppHookEvent{first}
		linger := time.NewTimer(w.cfg.Linger)
	fill:
		for len(batch) < w.cfg.Batch {
			select {
			case ev := <-q.ch:
				q.bytes.Add(-ev.size())
				batch = append(batch, ev)
			case <-linger.C:
				break fill
			case <-ctx.Done():
				linger.Stop()
				return
			}
		}
		linger.Stop()
		w.deliver(ctx, q, AppHookBody{TimeMs: time.Now().UnixMilli(), Events: batch})
	}
}

// deliver posts one batch, retrying with a doubling delay.
func (w *AppWebhooks) deliver(ctx context.Context, q *hookQueue, body AppHookBody) {
	raw, err := marshal(body)
	if err != nil {
		return
	}
	delay := w.cfg.RetryBase
	for attempt := 1; ; attempt++ {
		err := w.post(ctx, q, raw)
		if err == nil {
			w.sent.Add(uint64(len(body.Events)))
			return
		}
		w.failed.Add(1)
		if attempt >= w.cfg.MaxAttempts {
			w.dead.Add(uint64(len(body.Events)))
			w.cfg.Logger.Warn("app webhook dropped after the last attempt", "app", q.target.AppID, "url", q.url,
				"events", len(body.Events), "attempts", attempt, "err", err)
			return
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, w.cfg.RetryMax)
	}
}

func (w *AppWebhooks) post(ctx context.Context, q *hookQueue, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, q.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "parley-pusher-webhook/1")
	req.Header.Set(PusherKeyHeader, q.target.Key)
	req.Header.Set(PusherSignatureHeader, SignPusherWebhook(q.target.Secret, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
