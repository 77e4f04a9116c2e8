package streams

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// StatsStream keeps the periodic stats snapshots of every node; its MaxAge
// is the history's retention. Renaming it loses the history, nothing else.
const StatsStream = "OPS_STATS"

const statsSubjectPrefix = "ops.stats."

// StatsHistoryConfig shapes the OPS_STATS stream.
type StatsHistoryConfig struct {
	// Retention is how long a snapshot is kept (default 7 days).
	Retention time.Duration
	// Replicas for the stream; 0 means 1.
	Replicas int
	// MaxBytes bounds the stream (default StatsMaxBytesDefault); the
	// oldest snapshots go first. JetStream reserves it in its store.
	MaxBytes int64
}

// StatsMaxBytesDefault is OPS_STATS's bound when none is given: about two
// weeks of a node's snapshots every five minutes, or a week of four nodes'.
const StatsMaxBytesDefault = 64 << 20

// StatsHistory is the OPS_STATS stream.
type StatsHistory struct {
	js jetstream.JetStream
}

// StatsRecord is one stored snapshot.
type StatsRecord struct {
	Seq  uint64
	Time time.Time
	Data []byte
}

// maxStatsBytes bounds one history read.
const maxStatsBytes = 8 << 20

// StatsHistory opens (creating or updating) the OPS_STATS stream.
func (c *Conn) StatsHistory(ctx context.Context, cfg StatsHistoryConfig) (*StatsHistory, error) {
	if cfg.Retention <= 0 {
		cfg.Retention = 7 * 24 * time.Hour
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = StatsMaxBytesDefault
	}
	err := c.retry(ctx, "stats stream", func() (err error) {
		_, err = c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:        StatsStream,
			Subjects:    []string{statsSubjectPrefix + ">"},
			Storage:     jetstream.FileStorage,
			Replicas:    max(cfg.Replicas, 1),
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      cfg.Retention,
			MaxBytes:    cfg.MaxBytes,
			Discard:     jetstream.DiscardOld,
			MaxMsgSize:  256 << 10,
			AllowDirect: true,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", StatsStream, err)
	}
	return &StatsHistory{js: c.js}, nil
}

// Record stores one node's snapshot.
func (h *StatsHistory) Record(ctx context.Context, node string, data []byte) error {
	m := nats.NewMsg(statsSubjectPrefix + b64.EncodeToString([]byte(node)))
	m.Data = data
	_, err := h.js.PublishMsg(ctx, m)
	return err
}

// Read returns up to limit snapshots, oldest first: from the first one
// stored at or after since, or, when afterSeq is set, the ones after that
// sequence (the cursor of the next page). more says whether the stream holds
// more after the last one returned.
func (h *StatsHistory) Read(ctx context.Context, since time.Time, afterSeq uint64, limit int) (out []StatsRecord, more bool, err error) {
	if limit <= 0 {
		return nil, false, nil
	}
	limit = min(limit, MaxBatchRead)
	opts := []jetstreamext.GetBatchOpt{jetstreamext.GetBatchMaxBytes(maxStatsBytes)}
	if afterSeq > 0 {
		opts = append(opts, jetstreamext.GetBatchSeq(afterSeq+1))
	} else {
		opts = append(opts, jetstreamext.GetBatchStartTime(since))
	}
	it, err := jetstreamext.GetBatch(ctx, h.js, StatsStream, limit, opts...)
	if err != nil {
		return nil, false, fmt.Errorf("stats history: %w", err)
	}
	for m, err := range it {
		if errors.Is(err, jetstreamext.ErrNoMessages) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("stats history: %w", err)
		}
		out = append(out, StatsRecord{Seq: m.Sequence, Time: m.Time, Data: m.Data})
		n, _ := strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
		more = n > 0
	}
	return out, more, nil
}
