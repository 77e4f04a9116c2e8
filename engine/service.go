package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Service runs the commands and queries of the messaging API. Every command
// appends events to the Log and then waits until the local read model has
// applied them, so the caller reads its own writes.
type Service struct {
	log           Log
	store         Store
	limits        Limits
	now           func() time.Time
	applyTimeout  time.Duration
	catchUpWait   time.Duration
	waiters       chan struct{} // lookups waiting past one catchUpWait
	seqs          *seqReads     // lookups' reads of the log's last sequence
	recent        *RecentEvents
	paused        func() bool
	blobs         BlobStore
	attachmentTTL time.Duration
}

// ServiceConfig tunes a Service; zero values take the defaults.
type ServiceConfig struct {
	Limits       Limits
	Now          func() time.Time
	ApplyTimeout time.Duration // how long a command waits for its projection (default 10s)
	// CatchUpWait is how long a lookup that found nothing waits for this
	// node's projector to move, when the node is behind the log (default
	// 2s); while it keeps moving the lookup waits on, up to ApplyTimeout.
	CatchUpWait time.Duration
	// CatchUpWaiters is how many lookups may wait past one CatchUpWait at
	// once; the others answer after one (default 256).
	CatchUpWaiters int
	// Recent, when set, answers deltas from memory where it can (the node
	// feeds it every applied batch); nil reads every delta from the log.
	Recent *RecentEvents
	// ProjectorPaused, when set, reports that this node's projector cannot
	// write (a full disk): a command then answers ErrNotProjected as soon
	// as its event is stored instead of waiting ApplyTimeout for nothing.
	ProjectorPaused func() bool
	// Blobs, when set, stores attachments; nil turns attachments off.
	Blobs BlobStore
	// AttachmentTTL is how long an upload no message carries is kept: a
	// send may attach it within three quarters of that (0: no bound).
	AttachmentTTL time.Duration
}

// NewService returns a Service over the given log and read model.
func NewService(log Log, store Store, cfg ServiceConfig) *Service {
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ApplyTimeout <= 0 {
		cfg.ApplyTimeout = 10 * time.Second
	}
	if cfg.CatchUpWait <= 0 {
		cfg.CatchUpWait = 2 * time.Second
	}
	if cfg.CatchUpWaiters <= 0 {
		cfg.CatchUpWaiters = catchUpWaiters
	}
	return &Service{log: log, store: store, limits: cfg.Limits, now: cfg.Now, applyTimeout: cfg.ApplyTimeout,
		catchUpWait: cfg.CatchUpWait, waiters: make(chan struct{}, cfg.CatchUpWaiters), recent: cfg.Recent, paused: cfg.ProjectorPaused, blobs: cfg.Blobs, attachmentTTL: cfg.AttachmentTTL,
		seqs: &seqReads{read: log.LastSeq, timeout: cfg.CatchUpWait}}
}

// Limits returns the limits the service enforces.
func (s *Service) Limits() Limits { return s.limits }

// await waits until the read model has applied seq.
func (s *Service) await(ctx context.Context, seq uint64) error {
	if s.store.Applied() >= seq {
		return nil
	}
	if s.paused == nil {
		return s.waitApplied(ctx, seq, s.applyTimeout)
	}
	// A projector that pauses while the command waits (its batch failed)
	// ends the wait within pauseCheck, not at applyTimeout.
	deadline := time.Now().Add(s.applyTimeout)
	for {
		if s.paused() {
			return ErrNotProjected
		}
		left := time.Until(deadline)
		if left <= 0 {
			return ErrNotProjected
		}
		err := s.waitApplied(ctx, seq, min(left, pauseCheck))
		if err != ErrNotProjected {
			return err
		}
	}
}

// pauseCheck is how often a command waiting for its projection looks
// whether the projector has paused.
const pauseCheck = 100 * time.Millisecond

// waitApplied waits up to d for the read model to apply seq.
func (s *Service) waitApplied(ctx context.Context, seq uint64, d time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := s.store.WaitApplied(wctx, seq); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return ErrNotProjected
	}
	return nil
}

// appendAndWait appends ev and waits for its projection.
func (s *Service) appendAndWait(ctx context.Context, ev Event, key string) (seq uint64, dup bool, err error) {
	seq, dup, err = s.log.Append(ctx, ev, key)
	if err != nil {
		return 0, false, err
	}
	return seq, dup, s.await(ctx, seq)
}

// participant returns the caller's membership or ErrConversationNotFound.
func (s *Service) participant(ctx context.Context, conversationID, userID string) (*Participant, error) {
	if !ValidID(conversationID) {
		return nil, ErrConversationNotFound
	}
	return lookup(ctx, s, ErrConversationNotFound, func(p *Participant) bool { return p != nil }, func() (*Participant, error) {
		return s.store.Participant(ctx, conversationID, userID)
	})
}

// catchUpWaiters is the default bound on the lookups that wait longer than
// one catchUpWait for a node that is still catching up; the others answer
// after one.
const catchUpWaiters = 256

// catchUp is called after a lookup found nothing; before is Applied() as
// read before that lookup, and ticket the seqReads ticket read before that
// (see logLast). It reports whether the lookup should run again: the read
// model moved since, or it waited for it. Its error is what a lookup that
// still finds nothing answers instead of "not found":
// ErrCatchingUp when the node is still behind what the log held when the
// lookup began, ErrLogUnavailable when the log could not say within a
// catchUpWait (two when a shared read too old for it was in flight).
//
// A node that another node's client just moved to may lag behind the write
// that client saw, and a node that restarted on a wiped read model, or
// joined a cluster, may be replaying a long log. So when the read model is
// behind the log, the lookup waits until the node has applied what the log
// held when the lookup began, or until a whole catchUpWait passed without
// a commit, or max(applyTimeout, catchUpWait) in all. Waits past the first
// catchUpWait are for a bounded number of lookups at once
// (ServiceConfig.CatchUpWaiters).
func (s *Service) catchUp(ctx context.Context, before, ticket uint64) (bool, error) {
	last, err := s.logLast(ctx, ticket)
	if err != nil {
		return ctx.Err() == nil && s.store.Applied() != before, err
	}
	if last <= s.store.Applied() {
		return s.store.Applied() != before, nil
	}
	s.waitFor(ctx, last)
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if s.store.Applied() < last {
		return true, ErrCatchingUp
	}
	return true, nil
}

// logLast returns the log's last sequence from a read that began after
// ticket was taken (shared with other requests that ask at the same time),
// or ctx's error, or ErrLogUnavailable.
func (s *Service) logLast(ctx context.Context, ticket uint64) (uint64, error) {
	last, err := s.seqs.last(ctx, ticket)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("%w (%w)", ErrLogUnavailable, err)
	}
	return last, nil
}

// cursorError is what a request whose cursor message was not found
// answers: the lookup's own error when the node could not tell (catching
// up, log unavailable) or the request ended, else ErrUnknownCursor.
func cursorError(err error) error {
	if e := AsError(err); (e != nil && e.Kind == KindUnavailable) || isCtxErr(err) {
		return err
	}
	return ErrUnknownCursor
}

// waitFor waits, as catchUp says, for the read model to apply last.
func (s *Service) waitFor(ctx context.Context, last uint64) {
	ctx, cancel := context.WithTimeout(ctx, max(s.applyTimeout, s.catchUpWait))
	defer cancel()
	for first := true; ; first = false {
		from := s.store.Applied()
		wctx, wcancel := context.WithTimeout(ctx, s.catchUpWait)
		err := s.store.WaitApplied(wctx, last)
		wcancel()
		if err == nil || ctx.Err() != nil || s.store.Applied() == from {
			return
		}
		if first {
			select {
			case s.waiters <- struct{}{}:
				defer func() { <-s.waiters }()
			default:
				return // enough lookups already wait on this node
			}
		}
	}
}

// lookup runs find, and when it finds nothing on a node that may not have
// applied the thing yet, waits (catchUp) and runs it again. found says
// whether find's result is there; a result still missing after that
// answers notFound, or catchUp's error.
func lookup[T any](ctx context.Context, s *Service, notFound error, found func(T) bool, find func() (T, error)) (T, error) {
	ticket := s.seqs.ticket()
	before := s.store.Applied()
	v, err := find()
	if err != nil || found(v) {
		return v, err
	}
	again, behind := s.catchUp(ctx, before, ticket)
	if again {
		if v, err = find(); err != nil || found(v) {
			return v, err
		}
	}
	if behind != nil {
		return v, behind
	}
	return v, notFound
}

// summary returns the caller's view of a conversation or ErrConversationNotFound.
func (s *Service) summary(ctx context.Context, conversationID, userID string) (*ConversationSummary, error) {
	if !ValidID(conversationID) {
		return nil, ErrConversationNotFound
	}
	return lookup(ctx, s, ErrConversationNotFound, func(sum *ConversationSummary) bool { return sum != nil }, func() (*ConversationSummary, error) {
		return s.store.Summary(ctx, conversationID, userID)
	})
}

// message returns a message of a conversation or ErrMessageNotFound.
func (s *Service) message(ctx context.Context, conversationID, messageID string) (*Message, error) {
	if !ValidID(messageID) {
		return nil, ErrMessageNotFound
	}
	return lookup(ctx, s, ErrMessageNotFound, func(m *Message) bool { return m != nil }, func() (*Message, error) {
		return s.store.Message(ctx, conversationID, messageID)
	})
}

// isCtxErr reports whether err is a context cancellation or deadline.
func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// AwaitApplied waits up to d for this node to apply seq (a cursor that a
// client brings from a node further ahead); it reports whether it did.
func (s *Service) AwaitApplied(ctx context.Context, seq uint64, d time.Duration) bool {
	if s.store.Applied() >= seq {
		return true
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return s.store.WaitApplied(wctx, seq) == nil
}
