package streams

import (
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Waits between an iterator's checks for a missing pull request; see
// iterator.
const (
	recheckFirst = 25 * time.Millisecond
	recheckMax   = 16 * time.Second
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
// Every call of Next checks again, so next calls it with a wait that starts
// at recheckFirst and doubles while nothing comes: the stall lasts
// milliseconds. The wait grows to recheckMax, above two heartbeats, so an
// idle iterator still notices a consumer the server lost.
type iterator struct {
	it   jetstream.MessagesContext
	wait time.Duration
}

func newIterator(it jetstream.MessagesContext) *iterator {
	return &iterator{it: it, wait: recheckFirst}
}

// next returns the next message, or the iterator's error (ErrMsgIteratorClosed
// once it is stopped).
func (i *iterator) next() (jetstream.Msg, error) {
	for {
		m, err := i.it.Next(jetstream.NextMaxWait(i.wait))
		if errors.Is(err, nats.ErrTimeout) {
			i.wait = min(2*i.wait, recheckMax)
			continue
		}
		i.wait = recheckFirst
		return m, err
	}
}
