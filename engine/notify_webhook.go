package engine

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
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
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// WebhookPayload is the JSON body of a webhook request. DeliveryID is the
// notification id: a receiver that sees it twice (a retry after a lost
// answer) has the same notification again.
type WebhookPayload struct {
	Type         EventType    `json:"type"`
	DeliveryID   string       `json:"delivery_id"`
	Attempt      int          `json:"attempt"`
	Notification Notification `json:"notification"`
}

// NotificationReader is the notifications read model as the webhook sender
// needs it.
type NotificationReader interface {
	// WaitNotificationsApplied blocks until the notifications projection has
	// applied seq or ctx ends.
	WaitNotificationsApplied(ctx context.Context, seq uint64) error
	// Notification returns one notification by id, nil when none.
	Notification(ctx context.Context, id string) (*Notification, error)
}

// WebhookConfig configures webhook delivery.
type WebhookConfig struct {
	URL    string
	Secret []byte
	// Timeout bounds one attempt (default 5s).
	Timeout time.Duration
	// ApplyTimeout bounds the wait for the local notifications projection
	// (default 5s).
	ApplyTimeout time.Duration
	Logger       *slog.Logger
}

// Webhooks POSTs every new notification to the configured URL: the handler
// of the `webhooks` work queue, which retries failures with growing delays
// and parks the last failure as a dead letter. A notification that only
// collapsed into an earlier one (batching) sends nothing.
type Webhooks struct {
	cfg    WebhookConfig
	client *http.Client
	store  NotificationReader
	log    NotificationLog
	stats  webhookCounters
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
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.ApplyTimeout <= 0 {
		cfg.ApplyTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("component", "webhooks")
	}
	client := &http.Client{
		Timeout:       cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Webhooks{cfg: cfg, client: client, store: store, log: log}
}

// Stats returns the counters.
func (w *Webhooks) Stats() WebhookStats {
	if w == nil {
		return WebhookStats{}
	}
	return WebhookStats{Enabled: true, Attempts: w.stats.attempts.Load(), Sent: w.stats.sent.Load(),
		Failed: w.stats.failed.Load(), Dead: w.stats.dead.Load(), Batched: w.stats.batched.Load()}
}

// Handle delivers the notification a notification.created event made.
func (w *Webhooks) Handle(ctx context.Context, ev Event, attempt int) error {
	if ev.Type != NotificationCreated {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, w.cfg.ApplyTimeout)
	err := w.store.WaitNotificationsApplied(wctx, ev.Seq)
	cancel()
	if err != nil {
		return fmt.Errorf("notification seq %d not projected yet: %w", ev.Seq, err)
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
	body, err := marshal(WebhookPayload{Type: NotificationCreated, DeliveryID: n.ID, Attempt: attempt, Notification: *n})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "parley-webhook/1")
	req.Header.Set(WebhookEventHeader, string(NotificationCreated))
	req.Header.Set(WebhookDeliveryHeader, n.ID)
	req.Header.Set(WebhookAttemptHeader, strconv.Itoa(attempt))
	req.Header.Set(WebhookTimestampHeader, strconv.FormatInt(ts, 10))
	req.Header.Set(WebhookSignatureHeader, SignWebhook(w.cfg.Secret, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		var ue interface{ Timeout() bool }
		if errors.As(err, &ue) && ue.Timeout() {
			return fmt.Errorf("timeout after %v", w.cfg.Timeout)
		}
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %d: %s", resp.StatusCode, bytes.ToValidUTF8(bytes.TrimSpace(snippet), nil))
	}
	return nil
}

// Dead parks a notification whose every attempt failed.
func (w *Webhooks) Dead(ctx context.Context, ev Event, attempts int, cause error) {
	w.stats.dead.Add(1)
	var d NotificationCreatedData
	_ = json.Unmarshal(ev.Data, &d)
	w.cfg.Logger.Warn("webhook dead-lettered after the last attempt", "notification_id", ev.ID.String(), "attempts", attempts, "err", cause)
	recordDead(ctx, w.log, w.cfg.Logger, ev.ConversationID, DeadLetteredData{
		Kind: DeadWebhook, Ref: ev.ID.String(), UserID: d.UserID, Attempts: attempts, LastError: errText(cause),
	})
}
