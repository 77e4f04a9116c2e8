package node

import (
	"errors"
	"flag"
	"net/url"
	"parley/streams"
	"time"

	"parley/internal/notify"
)

// OpsConfig is the part of Config that shapes notifications, webhooks and
// the operations side (stats history, readiness).
type OpsConfig struct {
	// Notifications runs the shared `notifications` work queue on this node.
	Notifications     bool
	NotifyWindow      time.Duration
	NotifyMaxAttempts int
	NotifyRetry       time.Duration
	NotifyWorkers     int

	WebhookURL         string
	WebhookSecret      string
	WebhookTimeout     time.Duration
	WebhookMaxAttempts int
	WebhookRetry       time.Duration
	WebhookWorkers     int

	StatsInterval  time.Duration
	StatsRetention time.Duration
	ReadyMaxLag    int
	NodeName       string
	// StatsMaxMB bounds the OPS_STATS stream (the oldest snapshots go
	// first); JetStream reserves it in its store.
	StatsMaxMB int
	// LowSpaceMB: below this many MiB free in the data directory's
	// filesystem the node warns (low_space); 0 turns the warning off.
	LowSpaceMB int

	// NotifyAfterAppend runs after a message's notifications are appended
	// and before the job is acked (tests force redeliveries with it).
	NotifyAfterAppend func(messageID string) error
}

// DefaultOpsConfig is what `parley serve` runs with.
func DefaultOpsConfig() OpsConfig {
	return OpsConfig{
		Notifications: true, NotifyWindow: notify.DefaultNotifyWindow, NotifyMaxAttempts: 10,
		NotifyRetry: time.Second, NotifyWorkers: 16,
		WebhookTimeout: 5 * time.Second, WebhookMaxAttempts: 8, WebhookRetry: 2 * time.Second, WebhookWorkers: 4,
		StatsInterval: 5 * time.Minute, StatsRetention: 7 * 24 * time.Hour, ReadyMaxLag: 1000, LowSpaceMB: 256,
		StatsMaxMB: streams.StatsMaxBytesDefault >> 20,
	}
}

func (c *OpsConfig) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.Notifications, "notifications", c.Notifications, "run the shared notifications work queue on this node (offline recipients get notifications)")
	fs.DurationVar(&c.NotifyWindow, "notify-window", c.NotifyWindow, "how long a user's notification of a conversation stays open after the message that opened it: the conversation's messages within it join it (no further event or webhook); 0 turns batching off")
	fs.IntVar(&c.NotifyMaxAttempts, "notify-max-attempts", c.NotifyMaxAttempts, "deliveries of a message to the notifications queue before it is dead-lettered")
	fs.DurationVar(&c.NotifyRetry, "notify-retry", c.NotifyRetry, "delay before the second attempt of a failed notification job; it doubles per attempt, up to 1m")
	fs.IntVar(&c.NotifyWorkers, "notify-workers", c.NotifyWorkers, "notification jobs this node runs at once")
	fs.StringVar(&c.WebhookURL, "webhook-url", c.WebhookURL, "POST every new notification as signed JSON to this http(s) URL; empty turns webhooks off")
	fs.StringVar(&c.WebhookSecret, "webhook-secret", c.WebhookSecret, "HMAC-SHA256 key of the X-Parley-Signature header (required with --webhook-url)")
	fs.DurationVar(&c.WebhookTimeout, "webhook-timeout", c.WebhookTimeout, "how long one webhook attempt may take")
	fs.IntVar(&c.WebhookMaxAttempts, "webhook-max-attempts", c.WebhookMaxAttempts, "attempts of one webhook before it is parked as a dead letter")
	fs.DurationVar(&c.WebhookRetry, "webhook-retry", c.WebhookRetry, "delay before the second webhook attempt; it doubles per attempt, up to 10m")
	fs.IntVar(&c.WebhookWorkers, "webhook-workers", c.WebhookWorkers, "webhook deliveries this node runs at once")
	fs.DurationVar(&c.StatsInterval, "stats-interval", c.StatsInterval, "how often this node stores a stats snapshot for the history")
	fs.DurationVar(&c.StatsRetention, "stats-retention", c.StatsRetention, "how long stats snapshots are kept")
	fs.IntVar(&c.StatsMaxMB, "stats-max-mb", c.StatsMaxMB, "bound on the stored stats snapshots (OPS_STATS), reserved in JetStream's store; the oldest go first")
	fs.IntVar(&c.LowSpaceMB, "low-space-mb", c.LowSpaceMB, "warn (low_space in /api/ops/stats, /metrics and the log) while the data directory's filesystem has less than this many MiB free; 0: off")
	fs.IntVar(&c.ReadyMaxLag, "ready-max-lag", c.ReadyMaxLag, "/readyz fails while a projection is more than this many events behind its stream")
	fs.StringVar(&c.NodeName, "node-name", c.NodeName, "this node's name in stats and their history (default: the host name)")
}

func (c OpsConfig) validate() []error {
	var errs []error
	if c.NotifyWindow < 0 {
		errs = append(errs, errors.New("--notify-window must not be negative"))
	}
	if c.NotifyMaxAttempts < 1 || c.NotifyMaxAttempts > 100 || c.WebhookMaxAttempts < 1 || c.WebhookMaxAttempts > 100 {
		errs = append(errs, errors.New("--notify-max-attempts and --webhook-max-attempts must be between 1 and 100"))
	}
	if c.NotifyRetry <= 0 || c.WebhookRetry <= 0 || c.WebhookTimeout <= 0 {
		errs = append(errs, errors.New("--notify-retry, --webhook-retry and --webhook-timeout must be positive"))
	}
	if c.NotifyWorkers < 1 || c.NotifyWorkers > 64 || c.WebhookWorkers < 1 || c.WebhookWorkers > 64 {
		errs = append(errs, errors.New("--notify-workers and --webhook-workers must be between 1 and 64"))
	}
	if c.WebhookURL != "" {
		u, err := url.Parse(c.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("--webhook-url must be an http or https URL"))
		}
		if c.WebhookSecret == "" {
			errs = append(errs, errors.New("--webhook-secret is required with --webhook-url"))
		}
	}
	if c.StatsInterval < 100*time.Millisecond || c.StatsRetention < time.Minute {
		errs = append(errs, errors.New("--stats-interval must be at least 100ms and --stats-retention at least 1m"))
	}
	if c.StatsMaxMB < 1 {
		errs = append(errs, errors.New("--stats-max-mb must be at least 1"))
	}
	if c.LowSpaceMB < 0 {
		errs = append(errs, errors.New("--low-space-mb must not be negative"))
	}
	if c.ReadyMaxLag < 0 {
		errs = append(errs, errors.New("--ready-max-lag must not be negative"))
	}
	return errs
}
