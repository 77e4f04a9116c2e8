package notify

import (
	"context"
	"fmt"
	"log/slog"
	"parley/engine"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	json "github.com/goccy/go-json"
	"github.com/oklog/ulid/v2"
)

// WorkHandler processes the jobs of a shared work queue (a durable JetStream
// consumer every node pulls from). The queue acks a job only after Handle
// returned nil; an error sends it back with a delay that grows with the
// attempt number, and after the last attempt Dead is called and the job is
// dropped. Handle must be idempotent: a job can arrive again after a crash
// between its effect and its ack. Both are called from several goroutines.
type WorkHandler interface {
	Handle(ctx context.Context, ev engine.Event, attempt int) error
	Dead(ctx context.Context, ev engine.Event, attempts int, err error)
}

// NotificationLog is the NOTIFICATIONS stream as the notification rules need
// it. Append has engine.Log's contract: a non-empty key deduplicates.
type NotificationLog interface {
	Append(ctx context.Context, ev engine.Event, key string) (seq uint64, duplicate bool, err error)
}

// OnlineChecker answers whether a user is online on a presence channel right
// now. engine.Presence is one; PresenceMessaging is the channel that means
// "online at all".
type OnlineChecker interface {
	Online(channel, userID string) bool
}

// NotifierConfig tunes a Notifier; zero values take the defaults.
type NotifierConfig struct {
	// Window is the batching window written into every notification
	// (default DefaultNotifyWindow; negative turns batching off).
	Window time.Duration
	// ApplyTimeout bounds the wait for the local projection of a message
	// (default 5s); a message not projected by then is retried later.
	ApplyTimeout time.Duration
	// AfterAppend, when set, runs after a message's notifications are
	// appended and before the job is acked; an error fails the job. Tests
	// use it to force a redelivery.
	AfterAppend func(messageID string) error
	// Recent and Members, when both are set, answer a job from memory
	// without reading the message and its participants.
	Recent  *engine.RecentEvents
	Members *engine.Members
	// Windows is where the memory of open windows loads a conversation's
	// from on its first job here; nil starts every conversation empty.
	Windows WindowStore
	Logger  *slog.Logger
}

// Notifier turns message.sent events into notification.opened events: one
// per recipient who is offline when the job runs and has no notification
// of the conversation open (a window), none for those who have. It is the
// handler of the `notifications` work queue. What it needs per recipient
// per message (membership, presence, open windows) it answers from memory;
// Observe keeps that memory in step with every node's notifications.
type Notifier struct {
	log     NotificationLog
	store   engine.Store
	online  OnlineChecker
	cfg     NotifierConfig
	windows *windowMemory
	stats   notifierCounters
}

var _ WorkHandler = (*Notifier)(nil)

type notifierCounters struct {
	messages, created, online, inWindow, skipped, failed, dead atomic.Uint64
}

// NotifierStats are a Notifier's counters since it started.
type NotifierStats struct {
	// Messages is the message.sent jobs handled to the end.
	Messages uint64 `json:"messages"`
	// Created is the notification events appended (a redelivery's
	// duplicate append is not counted).
	Created uint64 `json:"created"`
	// SkippedOnline is the recipients not notified because they were online.
	SkippedOnline uint64 `json:"skipped_online"`
	// InWindow is the offline recipients not notified again because a
	// notification of theirs was open in the conversation.
	InWindow uint64 `json:"in_window"`
	// SkippedMessages is the jobs whose message the projector rejected.
	SkippedMessages uint64 `json:"skipped_messages"`
	// Failed is the attempts that failed and were retried or dropped.
	Failed uint64 `json:"failed"`
	// Dead is the jobs dropped after the last attempt.
	Dead uint64 `json:"dead"`
}

// NewNotifier returns the notification rules over the read model, the
// notifications log and presence (nil: everyone is offline, as when
// realtime is off).
func NewNotifier(log NotificationLog, store engine.Store, online OnlineChecker, cfg NotifierConfig) *Notifier {
	if cfg.Window == 0 {
		cfg.Window = DefaultNotifyWindow
	}
	if cfg.ApplyTimeout <= 0 {
		cfg.ApplyTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("component", "notifier")
	}
	return &Notifier{log: log, store: store, online: online, cfg: cfg, windows: newWindowMemory()}
}

// Observe takes the notifications projection's reports of the windows its
// committed events opened, moved or closed (any node's), in stream order.
func (n *Notifier) Observe(ups []WindowUpdate) { n.windows.observe(ups) }

// Stats returns the counters.
func (n *Notifier) Stats() NotifierStats {
	return NotifierStats{
		Messages: n.stats.messages.Load(), Created: n.stats.created.Load(), SkippedOnline: n.stats.online.Load(),
		InWindow: n.stats.inWindow.Load(), SkippedMessages: n.stats.skipped.Load(), Failed: n.stats.failed.Load(), Dead: n.stats.dead.Load(),
	}
}

// Handle notifies the offline recipients of a message.sent event; other
// events need nothing. It waits until the local read model holds the
// message, so a send the projector rejected notifies nobody.
func (n *Notifier) Handle(ctx context.Context, ev engine.Event, attempt int) error {
	if ev.Type != engine.MessageSent {
		return nil
	}
	if err := n.handle(ctx, ev); err != nil {
		n.stats.failed.Add(1)
		return err
	}
	n.stats.messages.Add(1)
	return nil
}

// handle asks presence about every recipient (memory), then the memory of
// windows about the offline ones, and appends notification.opened for
// those who have no window open at the message's time. Jobs of one
// conversation run one at a time on a node, so a burst of messages opens
// each window once.
func (n *Notifier) handle(ctx context.Context, ev engine.Event) error {
	wctx, cancel := context.WithTimeout(ctx, n.cfg.ApplyTimeout)
	err := n.store.WaitApplied(wctx, ev.Seq)
	cancel()
	if err != nil {
		return fmt.Errorf("message seq %d not projected yet: %w", ev.Seq, err)
	}
	msg, recipients, err := n.message(ctx, ev)
	if err != nil {
		return err
	}
	if msg == nil {
		n.stats.skipped.Add(1) // rejected by the projector, or deleted already
		return nil
	}
	offline := make([]string, 0, len(recipients))
	for _, user := range recipients {
		if n.online != nil && n.online.Online(engine.PresenceMessaging, user) {
			n.stats.online.Add(1)
			continue
		}
		offline = append(offline, user)
	}
	if len(offline) > 0 {
		if err := n.open(ctx, ev, msg, offline); err != nil {
			return err
		}
	}
	if n.cfg.AfterAppend != nil {
		return n.cfg.AfterAppend(msg.ID)
	}
	return nil
}

// open appends notification.opened for the offline recipients the memory
// of windows says need one.
func (n *Notifier) open(ctx context.Context, ev engine.Event, msg *engine.Message, offline []string) error {
	cw, err := n.windows.acquire(ctx, n.cfg.Windows, msg.ConversationID, ev.At)
	if err != nil {
		return fmt.Errorf("open notifications of %s: %w", msg.ConversationID, err)
	}
	defer n.windows.release(cw)
	window := max(n.cfg.Window, 0)
	at := ev.At.UTC().Truncate(time.Microsecond) // as NewEvent stores it
	ids := make([]ulid.ULID, len(offline))
	todo, inWindow := n.windows.decide(cw, offline, msg.Seq, at, at.Add(window), func(i int) string {
		ids[i] = ulid.Make()
		return ids[i].String()
	})
	n.stats.inWindow.Add(uint64(inWindow))
	for k, i := range todo {
		if err := n.appendOpened(ctx, ids[i], at, msg, offline[i], window); err != nil {
			left := make([]string, 0, len(todo)-k)
			for _, j := range todo[k:] {
				left = append(left, offline[j])
			}
			n.windows.forget(cw, left)
			return err
		}
	}
	return nil
}

// appendOpened appends one recipient's notification.opened for the message.
func (n *Notifier) appendOpened(ctx context.Context, id ulid.ULID, at time.Time, msg *engine.Message, user string, window time.Duration) error {
	nev, err := engine.NewEvent(NotificationOpened, msg.ConversationID, msg.SenderID, at, NotificationOpenedData{
		UserID: user, MessageID: msg.ID, MessageSeq: msg.Seq, WindowMillis: window.Milliseconds(),
	})
	if err != nil {
		return err
	}
	nev.ID = id
	_, dup, err := n.log.Append(ctx, nev, NotifyKey(msg.ID, user))
	if err != nil {
		return fmt.Errorf("notify %s of %s: %w", user, msg.ID, err)
	}
	if !dup {
		n.stats.created.Add(1)
	}
	return nil
}

// message returns the message of a projected message.sent event and the
// recipients it notifies before presence is asked, or nil when the
// projector rejected it or it was deleted since. It answers from memory
// (Recent says whether the projector accepted the event and whether a later
// event deleted it, Members who the participants are) and reads the read
// model only when the memory no longer holds the event.
func (n *Notifier) message(ctx context.Context, ev engine.Event) (*engine.Message, []string, error) {
	if n.cfg.Recent != nil && n.cfg.Members != nil {
		if accepted, deleted, known := n.cfg.Recent.Outcome(ev.ConversationID, ev.Seq); known {
			if !accepted || deleted {
				return nil, nil, nil
			}
			var d engine.MessageSentData
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				return nil, nil, fmt.Errorf("message seq %d: %w", ev.Seq, err)
			}
			ms, err := n.cfg.Members.Get(ctx, ev.ConversationID)
			if err != nil {
				return nil, nil, err
			}
			var out []string
			for _, m := range ms {
				if notifies(m.UserID, m.JoinedSeq, ev.ActorID, ev.Seq) && (!m.Muted || slices.Contains(d.Mentions, m.UserID)) {
					out = append(out, m.UserID)
				}
			}
			msg := &engine.Message{ID: ev.ID.String(), ConversationID: ev.ConversationID, SenderID: ev.ActorID, Body: d.Body, Seq: ev.Seq}
			return msg, out, nil
		}
	}
	msg, ps, err := n.store.MessageWithParticipants(ctx, ev.ConversationID, ev.ID.String())
	if err != nil || msg == nil || msg.Seq != ev.Seq || msg.DeletedAt != nil {
		return nil, nil, err
	}
	return msg, NotificationRecipients(ps, msg.SenderID, msg.Seq, msg.Mentions), nil
}

// Dead records a message whose notifications could not be made.
func (n *Notifier) Dead(ctx context.Context, ev engine.Event, attempts int, cause error) {
	n.stats.dead.Add(1)
	n.cfg.Logger.Error("notifications dropped after the last attempt", "seq", ev.Seq, "message_id", ev.ID.String(), "attempts", attempts, "err", cause)
	recordDead(ctx, n.log, n.cfg.Logger, ev.ConversationID, DeadLetteredData{
		Kind: DeadNotification, Ref: ev.ID.String(), Attempts: attempts, LastError: errText(cause),
	})
}

// recordDead appends a dead letter, best effort: the operator sees it in the
// dead-letter list; the counter and the log line are there either way.
func recordDead(ctx context.Context, log NotificationLog, logger *slog.Logger, conversationID string, d DeadLetteredData) {
	ev, err := engine.NewEvent(DeadLettered, conversationID, "", time.Now(), d)
	if err == nil {
		_, _, err = log.Append(ctx, ev, DeadKey(d.Kind, d.Ref))
	}
	if err != nil {
		logger.Error("record dead letter", "kind", d.Kind, "ref", d.Ref, "err", err)
	}
}

// errText is an error's text bounded for storage.
func errText(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > 500 {
		s = strings.ToValidUTF8(s[:500], "")
	}
	return s
}
