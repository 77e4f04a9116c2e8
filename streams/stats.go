package streams

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamStats is one stream as JetStream reports it.
type StreamStats struct {
	Name      string `json:"name"`
	Messages  uint64 `json:"messages"`
	Bytes     uint64 `json:"bytes"`
	FirstSeq  uint64 `json:"first_seq"`
	LastSeq   uint64 `json:"last_seq"`
	Consumers int    `json:"consumers"`
	Replicas  int    `json:"replicas"`
	Storage   string `json:"storage"`
}

// ConsumerStats is one consumer as JetStream reports it. Pending is what the
// consumer has not delivered yet; AckPending what it delivered and waits for
// an answer to (retries waiting for their delay included); Redelivered the
// messages delivered more than once and not yet acked; Waiting the pull
// requests waiting for messages.
type ConsumerStats struct {
	Stream       string     `json:"stream"`
	Name         string     `json:"name"`
	Durable      bool       `json:"durable"`
	Pending      uint64     `json:"pending"`
	AckPending   int        `json:"ack_pending"`
	Redelivered  int        `json:"redelivered"`
	Waiting      int        `json:"waiting"`
	DeliveredSeq uint64     `json:"delivered_seq"`
	AckFloorSeq  uint64     `json:"ack_floor_seq"`
	LastActive   *time.Time `json:"last_active"`
}

// JetStreamStats is every stream and consumer of the account, streams by
// name, consumers durable first. Truncated is set when there were more
// consumers than asked for.
type JetStreamStats struct {
	Streams   []StreamStats   `json:"streams"`
	Consumers []ConsumerStats `json:"consumers"`
	Truncated bool            `json:"truncated,omitempty"`
}

// maxStreams bounds the streams listed.
const maxStreams = 100

// Stats lists the account's streams and at most maxConsumers consumers.
func (c *Conn) Stats(ctx context.Context, maxConsumers int) (*JetStreamStats, error) {
	out := &JetStreamStats{Streams: []StreamStats{}, Consumers: []ConsumerStats{}}
	lister := c.js.ListStreams(ctx)
	for info := range lister.Info() {
		if len(out.Streams) == maxStreams {
			out.Truncated = true
			break
		}
		out.Streams = append(out.Streams, streamStats(info))
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	sort.Slice(out.Streams, func(i, j int) bool { return out.Streams[i].Name < out.Streams[j].Name })
	for _, s := range out.Streams {
		if s.Consumers == 0 {
			continue
		}
		st, err := c.js.Stream(ctx, s.Name)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", s.Name, err)
		}
		cl := st.ListConsumers(ctx)
		for ci := range cl.Info() {
			if len(out.Consumers) == maxConsumers {
				out.Truncated = true
				break
			}
			out.Consumers = append(out.Consumers, consumerStats(s.Name, ci))
		}
		if err := cl.Err(); err != nil {
			return nil, fmt.Errorf("list consumers of %s: %w", s.Name, err)
		}
	}
	sort.SliceStable(out.Consumers, func(i, j int) bool {
		a, b := out.Consumers[i], out.Consumers[j]
		if a.Durable != b.Durable {
			return a.Durable
		}
		if a.Stream != b.Stream {
			return a.Stream < b.Stream
		}
		return a.Name < b.Name
	})
	return out, nil
}

func streamStats(info *jetstream.StreamInfo) StreamStats {
	return StreamStats{
		Name: info.Config.Name, Messages: info.State.Msgs, Bytes: info.State.Bytes,
		FirstSeq: info.State.FirstSeq, LastSeq: info.State.LastSeq, Consumers: info.State.Consumers,
		Replicas: max(info.Config.Replicas, 1), Storage: info.Config.Storage.String(),
	}
}

func consumerStats(stream string, ci *jetstream.ConsumerInfo) ConsumerStats {
	cs := ConsumerStats{
		Stream: stream, Name: ci.Name, Durable: ci.Config.Durable != "",
		Pending: ci.NumPending, AckPending: ci.NumAckPending, Redelivered: ci.NumRedelivered,
		Waiting: ci.NumWaiting, DeliveredSeq: ci.Delivered.Stream, AckFloorSeq: ci.AckFloor.Stream,
	}
	for _, t := range []*time.Time{ci.Delivered.Last, ci.AckFloor.Last} {
		if t != nil && (cs.LastActive == nil || t.After(*cs.LastActive)) {
			v := t.UTC()
			cs.LastActive = &v
		}
	}
	return cs
}

// Connected reports whether the connection to NATS is up.
func (c *Conn) Connected() bool { return c.nc != nil && c.nc.IsConnected() }

// JetStreamReady checks that JetStream answers API requests.
func (c *Conn) JetStreamReady(ctx context.Context) error {
	_, err := c.js.AccountInfo(ctx)
	return err
}
