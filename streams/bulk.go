package streams

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"parley/engine"
)

// AppendAsync publishes events without waiting for each ack (at most window
// outstanding) and returns once every ack has arrived. For bulk loads and
// the benchmark's ceiling; commands use Append.
func (l *Log) AppendAsync(ctx context.Context, evs []engine.Event, window int) error {
	futures := make([]jetstream.PubAckFuture, 0, window)
	wait := func() error {
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return fmt.Errorf("append async: %w", err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		futures = futures[:0]
		return nil
	}
	for _, ev := range evs {
		raw, err := ev.Encode()
		if err != nil {
			return err
		}
		m := nats.NewMsg(Subject(ev.ConversationID))
		m.Data = raw
		m.Header.Set(EventHeader, string(ev.Type))
		f, err := l.js.PublishMsgAsync(m)
		if err != nil {
			return fmt.Errorf("append async: %w", err)
		}
		if futures = append(futures, f); len(futures) == window {
			if err := wait(); err != nil {
				return err
			}
		}
	}
	return wait()
}
