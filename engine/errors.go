package engine

import (
	"errors"
	"fmt"
)

// Kind classifies an Error; the HTTP layer maps each kind to one status.
type Kind int

// The error kinds.
const (
	KindInternal     Kind = iota // 500
	KindMalformed                // 400
	KindUnauthorized             // 401
	KindForbidden                // 403
	KindNotFound                 // 404
	KindConflict                 // 409
	KindTooLarge                 // 413
	KindInvalid                  // 422
	KindRateLimited              // 429
	KindUnavailable              // 503
	KindStorageFull              // 507
)

// Error is an application error whose code and message may be shown to the
// client. Code is stable; Message is for people.
type Error struct {
	Kind    Kind
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an *Error.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error, or nil when it is not one.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// Common errors.
var (
	// ErrNotFound hides whether a resource exists from those who may not see it.
	ErrNotFound = Errorf(KindNotFound, "not_found", "not found")
	// ErrConversationNotFound is returned to non-participants as well.
	ErrConversationNotFound = Errorf(KindNotFound, "conversation_not_found", "conversation not found")
	// ErrMessageNotFound is returned for a message that is not in the conversation.
	ErrMessageNotFound = Errorf(KindNotFound, "message_not_found", "message not found")
	// ErrUnknownCursor is a delta cursor that names no known position.
	ErrUnknownCursor = Errorf(KindMalformed, "unknown_cursor", "the cursor does not name a known message or sequence")
	// ErrCatchingUp answers a lookup that found nothing on a node still
	// applying the log up to where it stood when the lookup began: the
	// thing may exist, and a retry (on this node, later) will say.
	ErrCatchingUp = Errorf(KindUnavailable, "catching_up", "this node is still applying the event log and has not reached this yet; retry shortly")
	// ErrLogUnavailable answers a lookup that found nothing when the event
	// log could not be asked how far it goes, so "not found" cannot be
	// told from "not applied yet".
	ErrLogUnavailable = Errorf(KindUnavailable, "log_unavailable", "the event log cannot be reached; retry shortly")
	// ErrLogRefused means the log refused or did not acknowledge a write in
	// time (no quorum, JetStream down or not answering). The write may or may
	// not be stored; a retry of the same request is safe (a send's
	// client_temp_id finds it).
	ErrLogRefused = Errorf(KindUnavailable, "log_unavailable", "the event log is not accepting writes right now; retry shortly with the same request")
	// ErrStorageFull means the log refused a write because its storage is
	// full (its disk, or its configured limits).
	ErrStorageFull = Errorf(KindStorageFull, "storage_full", "the event log's storage is full; retry later with the same request")
	// ErrNotProjected means the event was stored but the read model has not caught up in time; retrying is safe.
	ErrNotProjected = Errorf(KindUnavailable, "not_yet_projected", "the change is stored but not yet visible; retry the same request")
)
