package streams

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"parley/engine"
)

// JetStream API error codes of a log that refuses writes for want of space:
// the server's or account's storage (insufficient resources, 10023 and
// 10047) and a store that failed to write (10077, which says why: the
// stream's MaxBytes with DiscardNew, or the disk itself).
const (
	errInsufficientResources    = 10023
	errStorageResourcesExceeded = 10047
	errStreamStoreFailed        = 10077
	errJetStreamNotEnabled      = 10076
	errJetStreamNotEnabledAcct  = 10039
)

// StoreExhausted reports whether err is JetStream refusing for want of
// storage (insufficient resources: a stream's reservation or a write that
// does not fit the server's or account's store).
func StoreExhausted(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == errInsufficientResources || apiErr.ErrorCode == errStorageResourcesExceeded)
}

// classifyAppend wraps an append's error in engine.ErrStorageFull when the
// log refused it for want of space, and in engine.ErrLogRefused when the
// log did not answer in time or is not there (no quorum, JetStream down),
// so the API answers 507 or 503 with Retry-After instead of 500. The
// caller's own cancellation stays as it is.
func classifyAppend(ctx context.Context, err error) error {
	if err == nil || engine.AsError(err) != nil {
		return err
	}
	if StoreExhausted(err) {
		return fmt.Errorf("%w (%w)", engine.ErrStorageFull, err)
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case errStreamStoreFailed:
			d := strings.ToLower(apiErr.Description)
			if strings.Contains(d, "maximum bytes") || strings.Contains(d, "no space") || strings.Contains(d, "resources") {
				return fmt.Errorf("%w (%w)", engine.ErrStorageFull, err)
			}
			return fmt.Errorf("%w (%w)", engine.ErrLogRefused, err)
		case errJetStreamNotEnabled, errJetStreamNotEnabledAcct:
			return fmt.Errorf("%w (%w)", engine.ErrLogRefused, err)
		}
		return err
	}
	if errors.Is(err, context.Canceled) && ctx.Err() == context.Canceled {
		return err // the caller gave up
	}
	for _, e := range []error{context.DeadlineExceeded, nats.ErrTimeout, nats.ErrNoResponders, jetstream.ErrNoStreamResponse,
		nats.ErrConnectionClosed, nats.ErrDisconnected, nats.ErrConnectionReconnecting, jetstream.ErrJetStreamNotEnabled} {
		if errors.Is(err, e) {
			return fmt.Errorf("%w (%w)", engine.ErrLogRefused, err)
		}
	}
	return err
}
