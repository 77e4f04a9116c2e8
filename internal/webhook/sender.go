// Package webhook is Parley's one webhook delivery core, shared by the
// notification webhooks and the Pusher-format app webhooks: HMAC-SHA256
// signing, one HTTP client with a per-attempt timeout and no redirects, a
// doubling retry delay, and a bounded in-memory batching queue whose batches
// are retried and, after the last attempt, handed to a dead-letter callback.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// DefaultTimeout bounds one attempt when a Sender is made with none.
const DefaultTimeout = 5 * time.Second

// Sign is hex(HMAC-SHA256(secret, parts concatenated)).
func Sign(secret []byte, parts ...[]byte) string {
	mac := hmac.New(sha256.New, secret)
	for _, p := range parts {
		mac.Write(p)
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// Sender posts webhook requests. It is safe for concurrent use; one Sender
// (one connection pool) serves every kind of webhook a node sends.
type Sender struct {
	client  *http.Client
	timeout time.Duration
}

// NewSender returns a Sender whose attempts each take at most timeout
// (DefaultTimeout when zero). Redirects are not followed: a webhook
// receiver answers where it was configured.
func NewSender(timeout time.Duration) *Sender {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Sender{timeout: timeout, client: &http.Client{
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Post makes one attempt: a JSON POST of body with the given headers. Any
// answer but a 2xx in time is an error, naming the status and the start of
// the answer's body, or the timeout.
func (s *Sender) Post(ctx context.Context, url string, body []byte, header http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		var te interface{ Timeout() bool }
		if errors.As(err, &te) && te.Timeout() {
			return fmt.Errorf("timeout after %v", s.timeout)
		}
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if text := bytes.ToValidUTF8(bytes.TrimSpace(snippet), nil); len(text) > 0 {
			return fmt.Errorf("status %d: %s", resp.StatusCode, text)
		}
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// Backoff is a doubling retry delay: Base before the second attempt, twice
// as long before each further one, never more than Max.
type Backoff struct {
	Base, Max time.Duration
}

// Delay is the wait before the attempt after attempt n (1-based).
func (b Backoff) Delay(n int) time.Duration {
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}
