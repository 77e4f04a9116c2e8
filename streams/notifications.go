package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"parley/engine"
	"parley/internal/notify"
)

// NotificationsStream holds the notification events (notification.opened,
// notification.created in older logs, notifications.read,
// dead_letter.recorded). Every node projects it into its
// notifications table. Renaming it loses every notification.
const NotificationsStream = "NOTIFICATIONS"

// Subjects of the NOTIFICATIONS stream: notifications by conversation
// (notification.opened and notification.created), reads
// and dead letters on fixed subjects (user ids may contain dots, so they do
// not name subjects).
const (
	notifySubjects      = "notify.>"
	notifyCreatedPrefix = "notify.conv."
	notifyReadSubject   = "notify.read"
	notifyDeadSubject   = "notify.dead"
)

// NotificationsConfig shapes the NOTIFICATIONS stream.
type NotificationsConfig struct {
	// Replicas for the stream; 0 means 1.
	Replicas int
	// DuplicateWindow is how long a notification's Nats-Msg-Id is remembered
	// (default 10 minutes; a node passes its --dup-window). The window only
	// absorbs redeliveries cheaply: the projection drops a second
	// notification of the same message for the same user whenever it comes,
	// and webhooks post only what the projection kept.
	DuplicateWindow time.Duration
	// Existing binds to the stream as it is (tools); a missing stream is
	// ErrNoNotifications.
	Existing bool
}

// ErrNoNotifications is Notifications' answer, with Existing, on a log that
// has never held notifications.
var ErrNoNotifications = errors.New("no NOTIFICATIONS stream")

// Notifications is the NOTIFICATIONS stream.
type Notifications struct {
	log *Log
}

var _ notify.NotificationLog = (*Notifications)(nil)

// Notifications opens (creating or updating) the NOTIFICATIONS stream.
func (c *Conn) Notifications(ctx context.Context, cfg NotificationsConfig) (*Notifications, error) {
	if cfg.Existing {
		st, err := c.js.Stream(ctx, NotificationsStream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, ErrNoNotifications
		}
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", NotificationsStream, err)
		}
		return c.notifications(st), nil
	}
	window := cfg.DuplicateWindow
	if window <= 0 {
		window = 10 * time.Minute
	}
	var st jetstream.Stream
	err := c.retry(ctx, "notifications stream", func() (err error) {
		st, err = c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:        NotificationsStream,
			Subjects:    []string{notifySubjects},
			Storage:     jetstream.FileStorage,
			Replicas:    max(cfg.Replicas, 1),
			Retention:   jetstream.LimitsPolicy,
			Duplicates:  window,
			AllowDirect: true,
			MaxMsgSize:  64 << 10,
			// Group commit publishes atomic batches: one fsync for many.
			AllowAtomicPublish: true,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", NotificationsStream, err)
	}
	return c.notifications(st), nil
}

// notifications wraps the stream, with the connection's group commit.
func (c *Conn) notifications(st jetstream.Stream) *Notifications {
	blocks := ""
	if c.blocksRoot != "" {
		blocks = embeddedBlocks(c.blocksRoot, NotificationsStream)
	}
	l := newLog(c.js, st, 0, c.groupCommit, blocks)
	c.logsMu.Lock()
	c.logs = append(c.logs, l)
	c.logsMu.Unlock()
	return &Notifications{log: l}
}

// Log is the stream as a readable log: Tail for the projector, ReadRange for
// rebuilds, LastSeq and Bounds.
func (n *Notifications) Log() *Log { return n.log }

// subject is where an event of the stream is stored.
func notifySubject(ev engine.Event) (string, error) {
	switch ev.Type {
	case notify.NotificationOpened, notify.NotificationCreated:
		if !validToken(ev.ConversationID) {
			return "", fmt.Errorf("notification: invalid conversation id %q", ev.ConversationID)
		}
		return notifyCreatedPrefix + ev.ConversationID, nil
	case notify.NotificationsRead:
		return notifyReadSubject, nil
	case notify.DeadLettered:
		return notifyDeadSubject, nil
	}
	return "", fmt.Errorf("notifications: unexpected event type %q", ev.Type)
}

// Append stores a notification event; a non-empty key deduplicates, as
// engine.Log.Append does.
func (n *Notifications) Append(ctx context.Context, ev engine.Event, key string) (uint64, bool, error) {
	subj, err := notifySubject(ev)
	if err != nil {
		return 0, false, err
	}
	raw, err := ev.Encode()
	if err != nil {
		return 0, false, err
	}
	return n.log.publish(ctx, subj, ev.Type, raw, key)
}
