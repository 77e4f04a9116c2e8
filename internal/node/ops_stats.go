package node

import (
	"context"
	"errors"
	"time"

	"parley/api"
	"parley/engine"
	"parley/streams"
)

// maxStatsConsumers bounds the consumers one stats answer lists.
const maxStatsConsumers = 200

// opsStats gathers the node's stats: JetStream's streams and consumers, the
// projections' checkpoints and lag, hub, presence and queue counters. The
// API adds its HTTP figures.
func (m *Node) opsStats(ctx context.Context) (*api.OpsStats, error) {
	o := m.ops
	if o == nil {
		return nil, errors.New("ops: not running")
	}
	js, err := m.conn.Stats(ctx, maxStatsConsumers)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	st := &api.OpsStats{
		Node: o.name, At: engine.FormatTime(now), StartedAt: engine.FormatTime(o.started),
		UptimeSeconds: int64(now.Sub(o.started) / time.Second), Truncated: js.Truncated,
		Streams: make([]api.StreamStats, 0, len(js.Streams)), Consumers: make([]api.ConsumerStats, 0, len(js.Consumers)),
	}
	last := map[string]uint64{}
	for _, s := range js.Streams {
		st.Streams = append(st.Streams, api.StreamStats(s))
		last[s.Name] = s.LastSeq
	}
	for _, c := range js.Consumers {
		st.Consumers = append(st.Consumers, api.ConsumerStats(c))
	}
	st.Projections = []api.ProjectionStats{
		projection("messages", streams.StreamName, m.db.Applied(), last[streams.StreamName], m.advanced.Load(), now),
		projection("notifications", streams.NotificationsStream, o.view.Applied(), last[streams.NotificationsStream], o.advanced.Load(), now),
	}
	st.Disk = m.diskStats()
	m.hubStats(st)
	st.Notifications.Enabled = o.notifier != nil
	if o.notifier != nil {
		st.Notifications.NotifierStats = o.notifier.Stats()
		st.Notifications.Queue = api.QueueStats(o.notifyQ.Stats())
	}
	st.Notifications.EventsPerSecond = o.events.rate(10 * time.Second)
	if st.Notifications.DeadLetters, err = o.view.DeadLetterCount(ctx); err != nil {
		return nil, err
	}
	st.Webhooks.WebhookStats = o.webhooks.Stats()
	if m.rt != nil {
		st.AppWebhooks = m.rt.hooks.Stats()
		st.AppWebhooks.ExpiredDropped = m.rt.appHooks.dropped.Load()
	}
	st.DeltaCache = m.recent.Stats()
	st.Durability = m.durabilityStats()
	st.Degraded = m.health.list()
	if st.Degraded == nil {
		st.Degraded = []api.Condition{}
	}
	if o.hookQ != nil {
		st.Webhooks.Queue = api.QueueStats(o.hookQ.Stats())
	}
	return st, nil
}

// projection is one projection's stats; advanced is when it last committed
// (Unix nanoseconds).
func projection(name, stream string, checkpoint, last uint64, advanced int64, now time.Time) api.ProjectionStats {
	p := api.ProjectionStats{Name: name, Stream: stream, Checkpoint: checkpoint, StreamLastSeq: last,
		Lag: last - min(last, checkpoint), LastAdvancedAt: engine.FormatTime(time.Unix(0, advanced))}
	if p.Lag > 0 {
		p.StalledSeconds = max(0, now.Sub(time.Unix(0, advanced)).Seconds())
	}
	return p
}

// hubStats fills the hub and presence parts (nil with realtime off).
func (m *Node) hubStats(st *api.OpsStats) {
	rt := m.rt
	if rt == nil {
		return
	}
	h := rt.hub.Stats()
	st.Hub = &api.HubStats{
		Connections: h.Connections, Users: h.Users, Subscriptions: rt.hub.Subscriptions(), Channels: h.Channels,
		Published: h.Published, Delivered: h.Delivered, SlowConsumerDisconnects: h.SlowDrops,
		DeliveriesPerSecond: m.ops.delivers.rate(10 * time.Second),
	}
	st.Presence = &api.PresenceStats{OnlineUsers: rt.presence.Count(engine.PresenceMessaging)}
}

// sampleRates feeds the rate meters every second.
func (m *Node) sampleRates(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		now := time.Now()
		m.ops.events.add(now, m.db.Applied())
		if rt := m.rt; rt != nil {
			m.ops.delivers.add(now, rt.hub.Stats().Delivered)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// durabilityStats is the log's durability mode and the group commit's work
// on the streams this node writes.
func (m *Node) durabilityStats() api.DurabilityStats {
	d := api.DurabilityStats{Mode: "interval", GroupCommit: m.Config.GroupCommit, Streams: []api.CommitStats{}}
	if m.Config.Sync == "always" {
		d.Mode = "fsync"
	}
	logs := []*streams.Log{m.conn.Log()}
	if m.ops != nil && m.ops.notifs != nil {
		logs = append(logs, m.ops.notifs.Log())
	}
	for _, l := range logs {
		c, ok := l.CommitStats()
		if !ok {
			d.GroupCommit = false
			continue
		}
		d.Streams = append(d.Streams, api.CommitStats{Stream: c.Stream, Batching: c.Batching, Batches: c.Batches, Appends: c.Appends,
			BatchesPerSecond: c.BatchesPerSecond, Fallbacks: c.Fallbacks, Remembered: c.Remembered,
			BatchSize: histogram(c.BatchSize), WaitSeconds: histogram(c.WaitSeconds)})
	}
	return d
}

func histogram(h streams.Histogram) api.Histogram {
	out := api.Histogram{Buckets: make([]api.Bucket, len(h.Bounds)), Count: h.Count, Sum: h.Sum}
	for i, le := range h.Bounds {
		out.Buckets[i] = api.Bucket{Le: le, Count: h.Counts[i]}
	}
	return out
}
