package streams

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Waits between an iterator's checks for a missing pull request, after a
// message: the first, and the longest before it waits without checking
// (about 1.6 s of checks in all).
const (
	recheckFirst = 25 * time.Millisecond
	recheckLast  = 800 * time.Millisecond
)

// pullBatch is how many messages an ordered consumer's iterator asks for
// at a time; a test makes it small to widen the race iterator works around.
var pullBatch = 1000

// iterator reads an ordered consumer's messages without the stall in
// nats.go (v1.55) that left the projector with nothing for ten seconds in
// about one restart in ten onto a long log.
//
// The library's iterator sends a new pull request from Next when fewer
// than half of the messages it asked for are still to come, but not while
// its previous request is still being written to the server. On a busy
// machine that write can take longer than the consumer takes to read the
// messages still buffered; Next then waits with nothing asked for, and
// nothing arrives until the missed-heartbeat reset (two heartbeats of 5 s).
// Every call of Next checks again, so after a message next calls it with
// short waits, from recheckFirst doubling to recheckLast: the stall lasts
// milliseconds. The write ends within milliseconds, so after those checks
// next waits as the library does (until a message or ctx ends), which
// keeps its handling of missed heartbeats and disconnects: a wait that
// starts afresh every few seconds would re-arm the heartbeat check during
// a disconnect and reset the consumer while NATS is away.
type iterator struct {
	it   jetstream.MessagesContext
	ctx  context.Context
	wait time.Duration // 0: wait without checking
}

func newIterator(ctx context.Context, it jetstream.MessagesContext) *iterator {
	return &iterator{it: it, ctx: ctx, wait: recheckFirst}
}

// next returns the next message, or the iterator's error: ErrMsgIteratorClosed
// once it is stopped, ctx's error once ctx ends.
func (i *iterator) next() (jetstream.Msg, error) {
	for {
		if i.wait == 0 {
			m, err := i.it.Next(jetstream.NextContext(i.ctx))
			if err == nil {
				i.wait = recheckFirst
			}
			return m, err
		}
		m, err := i.it.Next(jetstream.NextMaxWait(i.wait))
		if errors.Is(err, nats.ErrTimeout) {
			if err := i.ctx.Err(); err != nil {
				return nil, err
			}
			if i.wait *= 2; i.wait > recheckLast {
				i.wait = 0
			}
			continue
		}
		i.wait = recheckFirst
		return m, err
	}
}
