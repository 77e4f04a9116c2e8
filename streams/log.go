package streams

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"parley/engine"
)

// StreamName is the event log's stream. Renaming it loses the history.
const StreamName = "MESSAGES"

// EventHeader carries the event type beside the JSON envelope.
const EventHeader = "Parley-Event"

// errDuplicateInProcess is JetStream's answer on a replicated stream to a
// Msg-Id whose first publish is not committed yet.
const errDuplicateInProcess = 10158

// Log is the MESSAGES stream.
type Log struct {
	js     jetstream.JetStream
	stream jetstream.Stream

	appendTimeout time.Duration   // bounds Append's wait for the ack; 0: the caller's ctx only
	commit        *committer      // group commit by atomic batches; nil: each append publishes on its own
	blocks        *blockSyncer    // group commit by fsyncing the blocks after the acks (embedded single node)
	onAppend      func(err error) // set before the first Append: see OnAppend
	refusedAt     atomic.Int64    // when an append last went unanswered (Unix ns)
}

// While the log has just left an append unanswered, the next ones wait at
// most refusedTimeout for their ack, so a client learns at once that it is
// still down; an answered append ends that.
const (
	refusedTimeout = 250 * time.Millisecond
	refusedFor     = 15 * time.Second
)

// OnAppend makes Append report each outcome to fn: nil for a stored event,
// else the error it returns (engine.ErrStorageFull or engine.ErrLogRefused
// wrapped, when the log refused it). Call it before the first Append.
func (l *Log) OnAppend(fn func(err error)) { l.onAppend = fn }

var _ engine.Log = (*Log)(nil)

func openLog(ctx context.Context, js jetstream.JetStream, cfg Config) (*Log, error) {
	if cfg.Existing {
		st, err := js.Stream(ctx, StreamName)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", StreamName, err)
		}
		return newLog(js, st, cfg.AppendTimeout, cfg.GroupCommit, cfg.blocksDir(StreamName)), nil
	}
	replicas := cfg.Replicas
	if replicas <= 0 {
		replicas = 1
	}
	window := cfg.DuplicateWindow
	if window <= 0 {
		window = 2 * time.Minute
	}
	scfg := jetstream.StreamConfig{
		Name:        StreamName,
		Subjects:    []string{subjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  window,
		AllowDirect: true,
		MaxMsgSize:  1 << 20,
		// Group commit publishes atomic batches: one fsync for many events.
		AllowAtomicPublish: true,
	}
	if cfg.MaxLogBytes > 0 { // a full log refuses new events rather than dropping old ones
		scfg.MaxBytes, scfg.Discard = cfg.MaxLogBytes, jetstream.DiscardNew
	}
	// A cluster that is still electing its meta leader, or waiting for
	// enough peers for the replicas, refuses for a while: retry.
	deadline := time.Now().Add(90 * time.Second)
	for {
		st, err := js.CreateOrUpdateStream(ctx, scfg)
		if err == nil {
			return newLog(js, st, cfg.AppendTimeout, cfg.GroupCommit, cfg.blocksDir(StreamName)), nil
		}
		if replicas == 1 && cfg.ClusterName == "" && cfg.URL == "" || time.Now().After(deadline) {
			return nil, fmt.Errorf("create stream %s: %w", StreamName, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// newLog is a stream as a log. With blocks (the embedded single node's
// block directory) each append waits for a shared fsync of the blocks after
// its ack; else, with groupCommit, appends go through a committer of
// atomic batches (when the stream allows them).
func newLog(js jetstream.JetStream, st jetstream.Stream, appendTimeout time.Duration, groupCommit bool, blocks string) *Log {
	l := &Log{js: js, stream: st, appendTimeout: appendTimeout}
	if blocks != "" {
		l.blocks = newBlockSyncer(blocks)
		return l
	}
	if groupCommit {
		info := st.CachedInfo().Config
		l.commit = newCommitter(js, info.Name, info.Duplicates, l.publishTimeout)
		if !st.CachedInfo().Config.AllowAtomicPublish {
			l.commit.batching.Store(false)
		}
	}
	return l
}

// defaultPublishTimeout bounds a group commit's wait for its ack when no
// append timeout is configured.
const defaultPublishTimeout = 30 * time.Second

// publishTimeout is how long one publish waits for its ack: the append
// timeout, shortened while the log has just left an append unanswered.
func (l *Log) publishTimeout() time.Duration {
	timeout := l.appendTimeout
	if timeout <= 0 {
		timeout = defaultPublishTimeout
	}
	if at := l.refusedAt.Load(); at != 0 && time.Since(time.Unix(0, at)) < refusedFor {
		timeout = min(timeout, refusedTimeout)
	}
	return timeout
}

// CommitStats is the group commit's work on this stream; ok is false when
// each append publishes on its own.
func (l *Log) CommitStats() (CommitStats, bool) {
	if l.blocks != nil {
		return l.blocks.stats.snapshot(l.stream.CachedInfo().Config.Name, true), true
	}
	if l.commit == nil {
		return CommitStats{}, false
	}
	return l.commit.Stats(), true
}

// close stops the log's committer, if it has one.
func (l *Log) close() {
	if l != nil && l.commit != nil {
		l.commit.close()
	}
	if l != nil && l.blocks != nil {
		l.blocks.close()
	}
}

// Subject is the stream subject of a conversation's events: one literal
// subject per conversation, so per-conversation reads are direct.
func Subject(conversationID string) string { return subjectPrefix + conversationID }

// PrivateSubject is the subject of a conversation's events that concern
// their actor alone (engine.EventType.Private): in the stream, so the
// projectors apply them in order, but not on the conversation's subject, so
// no delta or replay of the conversation reads them.
func PrivateSubject(conversationID string) string { return subjectPrefix + conversationID + ".private" }

// subjectPrefix starts every subject of the MESSAGES stream.
const subjectPrefix = "conv."

// Filters of the work queues: every conversation's events on MESSAGES, and
// every notification.opened (and older logs' notification.created) on
// NOTIFICATIONS.
const (
	MessagesFilter      = subjectPrefix + ">"
	NotificationsFilter = notifyCreatedPrefix + ">"
)

// Append publishes ev on its conversation's subject and waits for the ack.
// A non-empty key (engine.SendKey, ...) is the Nats-Msg-Id: a duplicate
// inside the window returns the original sequence; a replicated stream's
// "duplicate in process" answer is retried after a short backoff until it
// turns into that duplicate ack.
func (l *Log) Append(ctx context.Context, ev engine.Event, key string) (uint64, bool, error) {
	if !validToken(ev.ConversationID) {
		return 0, false, fmt.Errorf("append: invalid conversation id %q", ev.ConversationID)
	}
	raw, err := ev.Encode()
	if err != nil {
		return 0, false, err
	}
	if l.appendTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.publishTimeout())
		defer cancel()
	}
	subject := Subject(ev.ConversationID)
	if ev.Type.Private() {
		subject = PrivateSubject(ev.ConversationID)
	}
	seq, dup, err := l.publish(ctx, subject, ev.Type, raw, key)
	err = classifyAppend(ctx, err)
	switch {
	case err == nil:
		l.refusedAt.Store(0)
	case errors.Is(err, engine.ErrLogRefused):
		l.refusedAt.Store(time.Now().UnixNano())
	}
	if l.onAppend != nil {
		l.onAppend(err)
	}
	return seq, dup, err
}

// publish appends one event, through the committer when there is one.
func (l *Log) publish(ctx context.Context, subject string, typ engine.EventType, raw []byte, key string) (uint64, bool, error) {
	if l.commit != nil {
		return l.commit.append(ctx, subject, typ, raw, key)
	}
	seq, dup, err := publish(ctx, l.js, subject, typ, raw, key)
	if err == nil && l.blocks != nil {
		// Written before its ack (a duplicate's original too, perhaps by
		// an append still waiting): on disk after the next fsync.
		if err = l.blocks.sync(ctx); err != nil {
			return 0, false, fmt.Errorf("append %s: %w", subject, err)
		}
	}
	return seq, dup, err
}

// publish appends one event message and waits for its ack. With a msgID, a
// duplicate inside the window returns the original sequence; a replicated
// stream's "duplicate in process" answer is retried after a short backoff
// until it turns into that duplicate ack.
func publish(ctx context.Context, js jetstream.JetStream, subject string, typ engine.EventType, raw []byte, msgID string) (uint64, bool, error) {
	return publishMsg(ctx, js, eventMsg(subject, typ, raw, msgID), subject)
}

// publishMsg publishes m and waits for its ack, retrying "duplicate in
// process" as publish does.
func publishMsg(ctx context.Context, js jetstream.JetStream, m *nats.Msg, subject string) (uint64, bool, error) {
	backoff := 2 * time.Millisecond
	for {
		ack, err := js.PublishMsg(ctx, m)
		if err == nil {
			return ack.Sequence, ack.Duplicate, nil
		}
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode != errDuplicateInProcess {
			return 0, false, fmt.Errorf("append %s: %w", subject, err)
		}
		select {
		case <-ctx.Done():
			return 0, false, fmt.Errorf("append %s: %w", subject, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// deltaMaxBytes bounds one delta read; a page of events stays far below it.
const deltaMaxBytes = 16 << 20

// ConversationEvents reads a conversation's events after afterSeq with one
// Direct Get batch on the conversation's literal subject: no consumer, and a
// cost that follows the number of events read.
func (l *Log) ConversationEvents(ctx context.Context, conversationID string, afterSeq uint64, limit int) ([]engine.Event, bool, error) {
	if !validToken(conversationID) || limit <= 0 {
		return nil, false, nil
	}
	limit = min(limit, MaxBatchRead)
	it, err := jetstreamext.GetBatch(ctx, l.js, StreamName, limit,
		jetstreamext.GetBatchSeq(afterSeq+1),
		jetstreamext.GetBatchSubject(Subject(conversationID)),
		jetstreamext.GetBatchMaxBytes(deltaMaxBytes))
	if err != nil {
		return nil, false, fmt.Errorf("delta %s: %w", conversationID, err)
	}
	var evs []engine.Event
	more := false
	for m, err := range it {
		if errors.Is(err, jetstreamext.ErrNoMessages) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("delta %s: %w", conversationID, err)
		}
		evs = append(evs, decode(m.Data, m.Sequence))
		more = m.Header.Get("Nats-Num-Pending") != "0"
	}
	return evs, more, nil
}

// LastSeq returns the stream's last sequence.
func (l *Log) LastSeq(ctx context.Context) (uint64, error) {
	info, err := l.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("last sequence of %s: %w", StreamName, err)
	}
	return info.State.LastSeq, nil
}

// Invalid is the event type given to a stored message that is not a valid
// event; the projector rejects it.
const Invalid engine.EventType = "invalid"

// decode parses a stored event; what does not parse becomes an Invalid event
// at the same sequence, so readers still move past it.
func decode(raw []byte, seq uint64) engine.Event {
	ev, err := engine.DecodeEvent(raw, seq)
	if err != nil {
		return engine.Event{Type: Invalid, Seq: seq}
	}
	return ev
}

// Tail delivers every event from sequence from onwards, in stream order, to
// out until ctx ends. It reads with an ordered consumer (no acks, no
// server-side state beyond the caller's own position) through one iterator
// on one goroutine: a consumer reset never reorders or drops an event, and
// the iterator's checks keep a missed pull request from stalling it.
func (l *Log) Tail(ctx context.Context, from uint64, out chan<- engine.Event) error {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if from > 1 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
	}
	cons, err := l.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil // closed while starting
		}
		return fmt.Errorf("tail from %d: %w", from, err)
	}
	msgs, err := cons.Messages(jetstream.PullMaxMessages(pullBatch))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("tail from %d: %w", from, err)
	}
	stop := context.AfterFunc(ctx, msgs.Stop)
	defer stop()
	defer msgs.Stop()
	it := newIterator(ctx, msgs)
	for {
		m, err := it.next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("tail: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("tail: %w", err)
		}
		select {
		case out <- decode(m.Data(), md.Sequence.Stream):
		case <-ctx.Done():
			return nil
		}
	}
}
