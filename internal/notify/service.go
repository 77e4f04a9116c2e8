package notify

import (
	"context"
	"parley/engine"
	"strconv"
	"time"
)

// NotificationStore is the notifications read model.
type NotificationStore interface {
	NotificationReader
	// Notifications returns up to limit of the user's notifications with a
	// seq below beforeSeq (0: from the newest), newest first; only unread
	// ones when unreadOnly.
	Notifications(ctx context.Context, userID string, unreadOnly bool, beforeSeq uint64, limit int) ([]Notification, error)
	// UnreadNotifications counts the user's unread notifications.
	UnreadNotifications(ctx context.Context, userID string) (int64, error)
	// UnreadAmong counts how many of ids are unread notifications of the user.
	UnreadAmong(ctx context.Context, userID string, ids []string) (int64, error)
	// DeadLetters returns up to limit dead letters with a seq below beforeSeq
	// (0: from the newest), newest first.
	DeadLetters(ctx context.Context, beforeSeq uint64, limit int) ([]DeadLetter, error)
}

// Notification paging and request bounds.
const (
	DefaultNotificationPage = 50
	MaxNotificationPage     = 200
	MaxNotificationIDs      = 100
)

// NotificationService answers the notification routes: list and mark read.
// Marking read is an event on the NOTIFICATIONS stream, so every node's
// projection agrees; like the messaging commands it waits until the local
// projection has applied it, so the caller reads their own write.
type NotificationService struct {
	log          NotificationLog
	store        NotificationStore
	now          func() time.Time
	applyTimeout time.Duration
}

// NewNotificationService returns the service; applyTimeout bounds the wait
// for the local projection (default 10s).
func NewNotificationService(log NotificationLog, store NotificationStore, applyTimeout time.Duration) *NotificationService {
	if applyTimeout <= 0 {
		applyTimeout = 10 * time.Second
	}
	return &NotificationService{log: log, store: store, now: time.Now, applyTimeout: applyTimeout}
}

// parseSeqCursor reads a next_cursor this API returned.
func parseSeqCursor(cursor string) (uint64, error) {
	if cursor == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(cursor, 10, 64)
	if err != nil || n == 0 {
		return 0, engine.Errorf(engine.KindMalformed, "invalid_cursor", "cursor is not a value this API returned")
	}
	return n, nil
}

// List returns a page of the user's notifications, newest first, with the
// number still unread.
func (s *NotificationService) List(ctx context.Context, userID string, unreadOnly bool, cursor string, limit int) (*NotificationPage, error) {
	limit, err := engine.PageLimit(limit, DefaultNotificationPage, MaxNotificationPage)
	if err != nil {
		return nil, err
	}
	before, err := parseSeqCursor(cursor)
	if err != nil {
		return nil, err
	}
	list, err := s.store.Notifications(ctx, userID, unreadOnly, before, limit+1)
	if err != nil {
		return nil, err
	}
	unread, err := s.store.UnreadNotifications(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := &NotificationPage{Notifications: list, UnreadCount: unread}
	if len(list) > limit {
		out.Notifications = list[:limit]
		next := strconv.FormatUint(list[limit-1].Seq, 10)
		out.NextCursor = &next
	}
	return out, nil
}

// MarkRead marks the given notifications of the user (or all of them) as
// read. Ids of notifications that are not the user's or already read are
// ignored; when nothing would change, nothing is appended.
func (s *NotificationService) MarkRead(ctx context.Context, userID string, ids []string, all bool) (*NotificationsReadState, error) {
	if err := checkReadRequest(ids, all); err != nil {
		return nil, err
	}
	var n int64
	var err error
	if all {
		n, err = s.store.UnreadNotifications(ctx, userID)
	} else {
		n, err = s.store.UnreadAmong(ctx, userID, ids)
	}
	if err != nil {
		return nil, err
	}
	if n > 0 {
		ev, err := engine.NewEvent(NotificationsRead, "", userID, s.now(), NotificationsReadData{IDs: ids, All: all})
		if err != nil {
			return nil, err
		}
		seq, _, err := s.log.Append(ctx, ev, "")
		if err != nil {
			return nil, err
		}
		wctx, cancel := context.WithTimeout(ctx, s.applyTimeout)
		err = s.store.WaitNotificationsApplied(wctx, seq)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, engine.ErrNotProjected
		}
	}
	unread, err := s.store.UnreadNotifications(ctx, userID)
	if err != nil {
		return nil, err
	}
	return &NotificationsReadState{UnreadCount: unread}, nil
}

func checkReadRequest(ids []string, all bool) error {
	switch {
	case all && len(ids) > 0:
		return engine.Errorf(engine.KindInvalid, "ids_or_all", "send either ids or all, not both")
	case !all && len(ids) == 0:
		return engine.Errorf(engine.KindInvalid, "ids_required", "send ids (notification ids) or all: true")
	case len(ids) > MaxNotificationIDs:
		return engine.Errorf(engine.KindInvalid, "too_many_ids", "at most %d ids per request", MaxNotificationIDs)
	}
	for _, id := range ids {
		if !engine.ValidID(id) {
			return engine.Errorf(engine.KindInvalid, "invalid_notification_id", "ids must be notification ids")
		}
	}
	return nil
}

// DeadLetters returns a page of dead letters, newest first (ops).
func (s *NotificationService) DeadLetters(ctx context.Context, cursor string, limit int) (*DeadLetterPage, error) {
	limit, err := engine.PageLimit(limit, DefaultNotificationPage, MaxNotificationPage)
	if err != nil {
		return nil, err
	}
	before, err := parseSeqCursor(cursor)
	if err != nil {
		return nil, err
	}
	list, err := s.store.DeadLetters(ctx, before, limit+1)
	if err != nil {
		return nil, err
	}
	out := &DeadLetterPage{DeadLetters: list}
	if len(list) > limit {
		out.DeadLetters = list[:limit]
		next := strconv.FormatUint(list[limit-1].Seq, 10)
		out.NextCursor = &next
	}
	return out, nil
}
