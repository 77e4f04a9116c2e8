package streams

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"parley/engine"
)

// Bounds returns the stream's first and last sequence.
func (l *Log) Bounds(ctx context.Context) (first, last uint64, err error) {
	info, err := l.stream.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	return info.State.FirstSeq, info.State.LastSeq, nil
}

// ReadRange hands fn the events with from <= seq <= to, in stream order, in
// slices of at most batch events (fn must not keep the slice). It reads with
// one ordered consumer and stops at to, or earlier once it has read all the
// stream holds; ctx ends it at any point.
func (l *Log) ReadRange(ctx context.Context, from, to uint64, batch int, fn func([]engine.Event) error) error {
	if from > to {
		return nil
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if from > 1 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
	}
	cons, err := l.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("read from %d: %w", from, err)
	}
	msgs, err := cons.Messages(jetstream.PullMaxMessages(max(batch, pullBatch)))
	if err != nil {
		return fmt.Errorf("read from %d: %w", from, err)
	}
	defer msgs.Stop()
	stop := context.AfterFunc(ctx, msgs.Stop) // Next does not watch ctx
	defer stop()
	it := newIterator(ctx, msgs)
	buf := make([]engine.Event, 0, batch)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := it.next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return ctx.Err()
			}
			return fmt.Errorf("read: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		seq := md.Sequence.Stream
		if seq > to {
			break
		}
		buf = append(buf, decode(m.Data(), seq))
		if len(buf) == batch || seq == to || md.NumPending == 0 {
			if err := fn(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
		if seq >= to || md.NumPending == 0 {
			break
		}
	}
	if len(buf) > 0 {
		return fn(buf)
	}
	return nil
}
