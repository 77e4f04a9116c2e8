package node

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"sync"
	"time"

	"parley/api"
	"parley/engine"
	"parley/streams"
)

// recordSnapshots stores a stats point at start and then every
// --stats-interval, until ctx ends.
func (m *Node) recordSnapshots(ctx context.Context) {
	t := time.NewTicker(m.Config.StatsInterval)
	defer t.Stop()
	for {
		if err := m.recordSnapshot(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Warn("store stats snapshot", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Node) recordSnapshot(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := m.api.OpsStats(sctx)
	if err != nil {
		return err
	}
	p := m.ops.point(st)
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return m.ops.history.Record(sctx, m.ops.name, raw)
}

// point reduces a stats answer to what the history keeps. Throughput is the
// MESSAGES events appended per second since this node's previous point.
func (o *opsRuntime) point(st *api.OpsStats) api.StatsPoint {
	p := api.StatsPoint{At: st.At, Node: st.Node, ProjectionLag: map[string]uint64{}, ConsumerPending: map[string]uint64{},
		HTTPRequestsPerSecond: st.HTTP.RequestsPerSecond, HTTPErrorRate: st.HTTP.ErrorRate, WebhooksDead: st.Webhooks.Dead}
	for _, s := range st.Streams {
		if s.Name == streams.StreamName {
			p.MessagesLastSeq = s.LastSeq
		}
	}
	for _, pr := range st.Projections {
		p.ProjectionLag[pr.Name] = pr.Lag
	}
	for _, c := range st.Consumers {
		if c.Durable {
			p.ConsumerPending[c.Stream+"/"+c.Name] = c.Pending + uint64(c.AckPending)
		}
	}
	if st.Hub != nil {
		p.Connections = st.Hub.Connections
	}
	now := time.Now()
	o.snapMu.Lock()
	if !o.prevTime.IsZero() && p.MessagesLastSeq >= o.prevSeq {
		p.EventsPerSecond = math.Round(float64(p.MessagesLastSeq-o.prevSeq)/now.Sub(o.prevTime).Seconds()*100) / 100
	} else {
		p.EventsPerSecond = st.Notifications.EventsPerSecond
	}
	o.prevSeq, o.prevTime = p.MessagesLastSeq, now
	o.snapMu.Unlock()
	return p
}

// opsHistory serves the stored points from since, or after cursor.
func (m *Node) opsHistory(ctx context.Context, since time.Time, cursor string, limit int) (*api.StatsHistory, error) {
	o := m.ops
	var after uint64
	if cursor != "" {
		n, err := strconv.ParseUint(cursor, 10, 64)
		if err != nil || n == 0 {
			return nil, engine.Errorf(engine.KindMalformed, "invalid_cursor", "cursor is not a value this API returned")
		}
		after = n
	}
	recs, more, err := o.history.Read(ctx, since, after, limit)
	if err != nil {
		return nil, err
	}
	out := &api.StatsHistory{Since: engine.FormatTime(since), IntervalSeconds: int(m.Config.StatsInterval / time.Second),
		Points: make([]api.StatsPoint, 0, len(recs))}
	for _, r := range recs {
		var p api.StatsPoint
		if json.Unmarshal(r.Data, &p) == nil {
			out.Points = append(out.Points, p)
		}
	}
	if more && len(recs) > 0 {
		next := strconv.FormatUint(recs[len(recs)-1].Seq, 10)
		out.NextCursor = &next
	}
	return out, nil
}

// rateMeter turns a growing counter into a rate: a ring of (time, value)
// samples, at most one a second for the last minute.
type rateMeter struct {
	mu      sync.Mutex
	samples [61]rateSample
	n, head int
}

type rateSample struct {
	t time.Time
	v uint64
}

func newRateMeter() *rateMeter { return &rateMeter{} }

func (r *rateMeter) add(t time.Time, v uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples[r.head] = rateSample{t, v}
	r.head = (r.head + 1) % len(r.samples)
	r.n = min(r.n+1, len(r.samples))
}

// rate is the counter's growth per second over about the last window.
func (r *rateMeter) rate(window time.Duration) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n < 2 {
		return 0
	}
	newest := r.samples[(r.head-1+len(r.samples))%len(r.samples)]
	oldest := newest
	for i := 2; i <= r.n; i++ {
		s := r.samples[(r.head-i+len(r.samples))%len(r.samples)]
		if newest.t.Sub(s.t) > window {
			break
		}
		oldest = s
	}
	dt := newest.t.Sub(oldest.t).Seconds()
	if dt <= 0 || newest.v < oldest.v {
		return 0
	}
	return math.Round(float64(newest.v-oldest.v)/dt*100) / 100
}
