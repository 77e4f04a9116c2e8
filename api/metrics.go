package api

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metricsNamespace prefixes every Parley metric.
const metricsNamespace = "parley"

// statsCollector exposes the ops stats as Prometheus metrics: on every
// scrape it takes one stats snapshot, so /metrics and /api/ops/stats show
// the same counters. It is an unchecked collector (its series follow the
// streams and consumers that exist).
type statsCollector struct {
	s *Server
}

// Describe sends nothing: the collector is unchecked.
func (statsCollector) Describe(chan<- *prometheus.Desc) {}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(metricsNamespace+"_"+name, help, labels, nil)
}

var (
	descStreamMessages  = desc("stream_messages", "Messages stored in the stream.", "stream")
	descStreamBytes     = desc("stream_bytes", "Bytes stored in the stream.", "stream")
	descStreamFirstSeq  = desc("stream_first_seq", "The stream's first sequence.", "stream")
	descStreamLastSeq   = desc("stream_last_seq", "The stream's last sequence.", "stream")
	descConsPending     = desc("consumer_pending", "Messages a durable consumer has not delivered yet.", "stream", "consumer")
	descConsAckPending  = desc("consumer_ack_pending", "Messages delivered and not yet acked (retries waiting included).", "stream", "consumer")
	descConsRedelivered = desc("consumer_redelivered", "Messages delivered more than once and not yet acked.", "stream", "consumer")
	descConsWaiting     = desc("consumer_waiting", "Pull requests waiting for messages.", "stream", "consumer")
	descProjCheckpoint  = desc("projection_checkpoint", "Last stream sequence the projection applied.", "projection")
	descProjLag         = desc("projection_lag", "Events of its stream the projection has still to apply.", "projection")
	descHubConns        = desc("hub_connections", "Realtime connections (WebSocket and SSE) on this node.")
	descHubUsers        = desc("hub_users", "Distinct users connected to this node.")
	descHubSubs         = desc("hub_subscriptions", "Channel subscriptions on this node.")
	descHubChannels     = desc("hub_channels", "Channels with at least one subscriber on this node.")
	descHubPublished    = desc("hub_published_total", "Frames published to the hub.")
	descHubDelivered    = desc("hub_delivered_total", "Frames queued to clients.")
	descHubSlow         = desc("hub_slow_consumer_disconnects_total", "Clients dropped because their outbound buffer was full.")
	descOnline          = desc("presence_online_users", "Users online (presence-messaging), as this node's watcher sees it.")
	descNotifMessages   = desc("notifications_messages_total", "message.sent jobs the notifications queue handled on this node.")
	descNotifCreated    = desc("notifications_created_total", "Notification events appended on this node.")
	descNotifOnline     = desc("notifications_skipped_online_total", "Recipients not notified because they were online.")
	descNotifInWindow   = desc("notifications_in_window_total", "Offline recipients not notified again: a notification of theirs was open in the conversation.")
	descNotifFailed     = desc("notifications_failed_total", "Failed notification attempts (retried or dead).")
	descNotifDead       = desc("notifications_dead_total", "Messages whose notifications were dropped after the last attempt.")
	descDeadLetters     = desc("dead_letters", "Dead letters stored (webhooks and notifications, every node).")
	descHookAttempts    = desc("webhook_attempts_total", "Webhook POST attempts.")
	descHookSent        = desc("webhook_sent_total", "Webhooks answered with a 2xx.")
	descHookFailed      = desc("webhook_failed_total", "Webhook attempts that failed (non-2xx, timeout, network).")
	descHookDead        = desc("webhook_dead_total", "Webhooks dead-lettered after the last attempt.")
	descAppHookSent     = desc("app_webhook_events_sent_total", "Pusher-format app webhook events delivered (2xx).")
	descAppHookFailed   = desc("app_webhook_failed_total", "Pusher-format app webhook attempts that failed.")
	descAppHookDropped  = desc("app_webhook_events_dropped_total", "App webhook events dropped because a URL's queue was full.")
	descAppHookDead     = desc("app_webhook_events_dead_total", "App webhook events dropped after the last attempt.")
	descAppHookExpired  = desc("app_webhook_expired_dropped_total", "Webhooks of expired leases (a crashed node's) not offered or claimed: queue full or claim failed.")
	descDeltaHits       = desc("delta_cache_hits_total", "Deltas answered from the recent-events memory.")
	descDeltaMisses     = desc("delta_cache_misses_total", "Deltas read from the log.")
	descUptime          = desc("uptime_seconds", "Seconds since this node started.")
	descDegraded        = desc("degraded", "1 while a component keeps the node from being ready (reason: projector_paused, ...); absent otherwise.", "component", "reason")
	descProjStalled     = desc("projection_stalled_seconds", "Seconds since the projection last committed while it has a lag (0 without one).", "projection")
	descDiskFree        = desc("data_dir_free_bytes", "Bytes free (to an unprivileged process) in the data directory's filesystem.")
	descDiskTotal       = desc("data_dir_size_bytes", "Size of the data directory's filesystem.")
	descDurability      = desc("log_durability", "1 for the log's durability mode: fsync (before the ack) or interval; group_commit says whether appends are batched.", "mode", "group_commit")
	descCommitBatches   = desc("log_commit_batches_total", "Publishes of the group commit (an atomic batch or a lone event).", "stream")
	descCommitAppends   = desc("log_commit_appends_total", "Events the group commit published.", "stream")
	descCommitRate      = desc("log_commit_batches_per_second", "Group commit publishes per second over the last ten seconds.", "stream")
	descCommitFallbacks = desc("log_commit_fallbacks_total", "Batches refused as a whole and published one by one.", "stream")
	descCommitSize      = desc("log_commit_batch_size", "Events per group commit publish.", "stream")
	descCommitWait      = desc("log_commit_wait_seconds", "Time an append waited for its batch to be stored.", "stream")
	descDegradedFails   = desc("degraded_failures", "Failures reported since the component's degraded state began (a paused projector's retries).", "component", "reason")
)

// Collect takes a stats snapshot and sends it as metrics.
func (sc statsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := sc.s.opsStats(ctx)
	if err != nil {
		sc.s.logger.Warn("metrics: stats snapshot", "err", err)
		return
	}
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	c := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, s := range st.Streams {
		g(descStreamMessages, float64(s.Messages), s.Name)
		g(descStreamBytes, float64(s.Bytes), s.Name)
		g(descStreamFirstSeq, float64(s.FirstSeq), s.Name)
		g(descStreamLastSeq, float64(s.LastSeq), s.Name)
	}
	for _, cs := range st.Consumers {
		if !cs.Durable { // ordered consumers have random names
			continue
		}
		g(descConsPending, float64(cs.Pending), cs.Stream, cs.Name)
		g(descConsAckPending, float64(cs.AckPending), cs.Stream, cs.Name)
		g(descConsRedelivered, float64(cs.Redelivered), cs.Stream, cs.Name)
		g(descConsWaiting, float64(cs.Waiting), cs.Stream, cs.Name)
	}
	for _, p := range st.Projections {
		g(descProjCheckpoint, float64(p.Checkpoint), p.Name)
		g(descProjLag, float64(p.Lag), p.Name)
		g(descProjStalled, p.StalledSeconds, p.Name)
	}
	if d := st.Disk; d != nil {
		g(descDiskFree, float64(d.FreeBytes))
		g(descDiskTotal, float64(d.TotalBytes))
	}
	if h := st.Hub; h != nil {
		g(descHubConns, float64(h.Connections))
		g(descHubUsers, float64(h.Users))
		g(descHubSubs, float64(h.Subscriptions))
		g(descHubChannels, float64(h.Channels))
		c(descHubPublished, h.Published)
		c(descHubDelivered, h.Delivered)
		c(descHubSlow, h.SlowConsumerDisconnects)
	}
	if p := st.Presence; p != nil {
		g(descOnline, float64(p.OnlineUsers))
	}
	n := st.Notifications
	c(descNotifMessages, n.Messages)
	c(descNotifCreated, n.Created)
	c(descNotifOnline, n.SkippedOnline)
	c(descNotifInWindow, n.InWindow)
	c(descNotifFailed, n.Failed)
	c(descNotifDead, n.Dead)
	g(descDeadLetters, float64(n.DeadLetters))
	w := st.Webhooks
	c(descHookAttempts, w.Attempts)
	c(descHookSent, w.Sent)
	c(descHookFailed, w.Failed)
	c(descHookDead, w.Dead)
	a := st.AppWebhooks
	c(descAppHookSent, a.Sent)
	c(descAppHookFailed, a.Failed)
	c(descAppHookDropped, a.Dropped)
	c(descAppHookDead, a.Dead)
	c(descAppHookExpired, a.ExpiredDropped)
	c(descDeltaHits, st.DeltaCache.Hits)
	c(descDeltaMisses, st.DeltaCache.Misses)
	g(descUptime, float64(st.UptimeSeconds))
	g(descDurability, 1, st.Durability.Mode, strconv.FormatBool(st.Durability.GroupCommit))
	for _, cs := range st.Durability.Streams {
		c(descCommitBatches, cs.Batches, cs.Stream)
		c(descCommitAppends, cs.Appends, cs.Stream)
		g(descCommitRate, cs.BatchesPerSecond, cs.Stream)
		c(descCommitFallbacks, cs.Fallbacks, cs.Stream)
		ch <- constHistogram(descCommitSize, cs.BatchSize, cs.Stream)
		ch <- constHistogram(descCommitWait, cs.WaitSeconds, cs.Stream)
	}
	for _, d := range st.Degraded {
		g(descDegraded, 1, d.Component, d.Reason)
		g(descDegradedFails, float64(d.Failures), d.Component, d.Reason)
	}
}

// constHistogram is a Histogram as a Prometheus histogram.
func constHistogram(d *prometheus.Desc, h Histogram, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Buckets))
	for _, b := range h.Buckets {
		buckets[b.Le] = b.Count
	}
	return prometheus.MustNewConstHistogram(d, h.Count, h.Sum, buckets, labels...)
}
