package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"parley/engine"
	"parley/internal/webhook"
)

// Webhook request headers. The signature is
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)); receivers
// should recompute it and reject timestamps more than a few minutes old.
const (
	WebhookSignatureHeader = "X-Parley-Signature"
	WebhookTimestampHeader = "X-Parley-Timestamp"
	WebhookEventHeader     = "X-Parley-Event"
	WebhookDeliveryHeader  = "X-Parley-Delivery"
	WebhookAttemptHeader   = "X-Parley-Attempt"
)

// SignWebhook returns the signature header value of body sent at ts (Unix
// seconds).
func SignWebhook(secret []byte, ts int64, body []byte) string {
	return "sha256=" + webhook.Sign(secret, strconv.AppendInt(nil, ts, 10), []byte{'.'}, body)
}

// WebhookPayload is the JSON body of a webhook request: one per
// notification, sent when it opens. DeliveryID is the notification id: a
// receiver that sees it twice (a retry after a lost answer) has the same
// notification again. Type is always notification.created. WindowEndsAt
// says until when the conversation's further messages join this
// notification (unless the user reads it first) and send no webhook.
type WebhookPayload struct {
	Type         engine.EventType `json:"type"`
	DeliveryID   string           `json:"delivery_id"`
	Attempt      int              `json:"attempt"`
	Notification Notification     `json:"notification"`
	WindowEndsAt string           `json:"window_ends_at,omitempty"`
}

// NotificationReader is the notifications read model as the webhook sender
// needs it.
type NotificationReader interface {
	// WaitNotificationsApplied blocks until the notifications projection has
	// applied seq or ctx ends.
	WaitNotificationsApplied(ctx context.Context, seq uint64) error
	// Notification returns one notification by id, nil when none.
	Notification(ctx context.Context, id string) (*Notification, error)
	// WaitMessagesApplied blocks until the messages the notification is
	// derived from are projected through seq or ctx ends.
	WaitMessagesApplied(ctx context.Context, seq uint64) error
}

// WebhookConfig configures webhook delivery.
type WebhookConfig struct {
	URL    string
	Secret []byte
	// Timeout bounds one attempt (default 5s) when Sender is nil.
	Timeout time.Duration
	// Sender posts the requests; nil makes one with Timeout.
	Sender *webhook.Sender
	// ApplyTimeout bounds the wait for the local notifications projection
	// (default 5s).
	ApplyTimeout time.Duration
	Logger       *slog.Logger
}

// Webhooks POSTs every new notification to the configured URL: the handler
// of the `webhooks` work queue, which retries failures with growing delays
// and parks the last failure as a dead letter. One notification is one
// delivery, whatever number of messages its window takes; a notification
// event that joined an open notification (batching) sends nothing.
type Webhooks struct {
	cfg   WebhookConfig
	store NotificationReader
	log   NotificationLog
	stats webhookCounters
}

var _ WorkHandler = (*Webhooks)(nil)

type webhookCounters struct {
	attempts, sent, failed, dead, batched atomic.Uint64
}

// WebhookStats are the webhook counters since the node started.
type WebhookStats struct {
	Enabled  bool   `json:"enabled"`
	Attempts uint64 `json:"attempts"`
	Sent     uint64 `json:"sent"`
	Failed   uint64 `json:"failed"`
	Dead     uint64 `json:"dead"`
	// Batched is the notification events that joined an earlier
	// notification and so sent nothing.
	Batched uint64 `json:"batched"`
}

// NewWebhooks returns a webhook sender.
func NewWebhooks(cfg WebhookConfig, store NotificationReader, log NotificationLog) *Webhooks {
	if cfg.Sender == nil {
		cfg.Sender = webhook.NewSender(cfg.Timeout)
	}
	if cfg.ApplyTimeout <= 0 {
		cfg.ApplyTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("component", "webhooks")
	}
	return &Webhooks{cfg: cfg, store: store, log: log}
}

// Stats returns the counters.
func (w *Webhooks) Stats() WebhookStats {
	if w == nil {
		return WebhookStats{}
	}
	return WebhookStats{Enabled: true, Attempts: w.stats.attempts.Load(), Sent: w.stats.sent.Load(),
		Failed: w.stats.failed.Load(), Dead: w.stats.dead.Load(), Batched: w.stats.batched.Load()}
}

// Handle delivers the notification a notification.opened (or, from older
// logs, notification.created) event made.
func (w *Webhooks) Handle(ctx context.Context, ev engine.Event, attempt int) error {
	if ev.Type != NotificationOpened && ev.Type != NotificationCreated {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, w.cfg.ApplyTimeout)
	defer cancel()
	if err := w.store.WaitNotificationsApplied(wctx, ev.Seq); err != nil {
		return fmt.Errorf("notification seq %d not projected yet: %w", ev.Seq, err)
	}
	if ev.Type == NotificationOpened {
		var d NotificationOpenedData
		if err := json.Unmarshal(ev.Data, &d); err == nil {
			if err := w.store.WaitMessagesApplied(wctx, d.MessageSeq); err != nil {
				return fmt.Errorf("message seq %d not projected yet: %w", d.MessageSeq, err)
			}
		}
	}
	n, err := w.store.Notification(ctx, ev.ID.String())
	if err != nil {
		return err
	}
	if n == nil {
		w.stats.batched.Add(1)
		return nil
	}
	w.stats.attempts.Add(1)
	if err := w.post(ctx, n, attempt); err != nil {
		w.stats.failed.Add(1)
		return err
	}
	w.stats.sent.Add(1)
	return nil
}

// post sends one attempt; anything but a 2xx answer in time is an error.
func (w *Webhooks) post(ctx context.Context, n *Notification, attempt int) error {
	body, err := engine.Marshal(WebhookPayload{Type: NotificationCreated, DeliveryID: n.ID, Attempt: attempt,
		Notification: *n, WindowEndsAt: n.WindowEndsAt})
	if err != nil {
		return err
	}
	ts := time.Now().Unix()
	h := http.Header{}
	h.Set("User-Agent", "parley-webhook/1")
	h.Set(WebhookEventHeader, string(NotificationCreated))
	h.Set(WebhookDeliveryHeader, n.ID)
	h.Set(WebhookAttemptHeader, strconv.Itoa(attempt))
	h.Set(WebhookTimestampHeader, strconv.FormatInt(ts, 10))
	h.Set(WebhookSignatureHeader, SignWebhook(w.cfg.Secret, ts, body))
	return w.cfg.Sender.Post(ctx, w.cfg.URL, body, h)
}

// Dead parks a notification whose every attempt failed.
func (w *Webhooks) Dead(ctx context.Context, ev engine.Event, attempts int, cause error) {
	w.stats.dead.Add(1)
	var d struct {
		UserID string `json:"user_id"` // both notification events carry it
	}
	_ = json.Unmarshal(ev.Data, &d)
	w.cfg.Logger.Warn("webhook dead-lettered after the last attempt", "notification_id", ev.ID.String(), "attempts", attempts, "err", cause)
	recordDead(ctx, w.log, w.cfg.Logger, ev.ConversationID, DeadLetteredData{
		Kind: DeadWebhook, Ref: ev.ID.String(), UserID: d.UserID, Attempts: attempts, LastError: errText(cause),
	})
}
