package realtime

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"parley/engine"
	"parley/internal/webhook"
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
func SignPusherWebhook(secret []byte, body []byte) string { return webhook.Sign(secret, body) }

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
	// Timeout bounds one attempt (default 5s) when Sender is nil.
	Timeout time.Duration
	// Sender posts the requests; nil makes one with Timeout.
	Sender *webhook.Sender
	// RetryBase is the delay before the second attempt; it doubles up to
	// RetryMax (defaults 2s, 1m).
	RetryBase, RetryMax time.Duration
	// MaxAttempts bounds the attempts of one batch (default 8); a batch
	// that fails them all is dropped and counted dead.
	MaxAttempts int
	Logger      *slog.Logger
}

// AppWebhooks sends Pusher-format webhooks: per URL one webhook.Queue
// batches what is there, signs it and retries failures with a doubling
// delay. Enqueue never blocks: realtime delivery does not wait on a
// receiver. Delivery is at least once per batch and best effort overall
// (the queue lives in this node's memory).
type AppWebhooks struct {
	logger *slog.Logger
	sender *webhook.Sender
	hooks  map[string][]*webhook.Queue[AppHookEvent] // app id -> one queue per URL

	sent, dead atomic.Uint64
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
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("component", "app-webhooks")
	}
	if cfg.Sender == nil {
		cfg.Sender = webhook.NewSender(cfg.Timeout)
	}
	qcfg := webhook.QueueConfig{Len: cfg.Queue, Bytes: cfg.QueueBytes, Batch: cfg.Batch, Linger: cfg.Linger,
		Retry: webhook.Backoff{Base: cfg.RetryBase, Max: cfg.RetryMax}, MaxAttempts: cfg.MaxAttempts}
	w := &AppWebhooks{logger: cfg.Logger, sender: cfg.Sender, hooks: map[string][]*webhook.Queue[AppHookEvent]{}}
	for _, t := range targets {
		for _, u := range t.URLs {
			deliver := func(ctx context.Context, b webhook.Batch[AppHookEvent]) error { return w.post(ctx, t, u, b) }
			dead := func(batch []AppHookEvent, attempts int, err error) {
				w.dead.Add(uint64(len(batch)))
				w.logger.Warn("app webhook dropped after the last attempt", "app", t.AppID, "url", u,
					"events", len(batch), "attempts", attempts, "err", err)
			}
			w.hooks[t.AppID] = append(w.hooks[t.AppID], webhook.NewQueue(qcfg, AppHookEvent.size, deliver, dead))
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
	for _, q := range w.hooks[appID] {
		q.Offer(ev)
	}
}

// Stats returns the counters.
func (w *AppWebhooks) Stats() AppWebhookStats {
	if w == nil {
		return AppWebhookStats{}
	}
	st := AppWebhookStats{Sent: w.sent.Load(), Dead: w.dead.Load()}
	for _, qs := range w.hooks {
		for _, q := range qs {
			st.Enqueued += q.Enqueued.Load()
			st.Dropped += q.Dropped.Load()
			st.Failed += q.Failed.Load()
		}
	}
	return st
}

// Run sends until ctx ends; events still queued then are lost.
func (w *AppWebhooks) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, qs := range w.hooks {
		for _, q := range qs {
			wg.Add(1)
			go func() { defer wg.Done(); q.Run(ctx) }()
		}
	}
	wg.Wait()
}

// post makes one attempt at a batch for one URL, signed the Pusher way;
// time_ms is when the batch was formed, the same on every attempt.
func (w *AppWebhooks) post(ctx context.Context, t AppHookTarget, url string, b webhook.Batch[AppHookEvent]) error {
	body, err := engine.Marshal(AppHookBody{TimeMs: b.Formed.UnixMilli(), Events: b.Items})
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("User-Agent", "parley-pusher-webhook/1")
	h.Set(PusherKeyHeader, t.Key)
	h.Set(PusherSignatureHeader, SignPusherWebhook(t.Secret, body))
	if err := w.sender.Post(ctx, url, body, h); err != nil {
		return err
	}
	w.sent.Add(uint64(len(b.Items)))
	return nil
}
