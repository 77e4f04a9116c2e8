package api

import (
	"time"

	"parley/engine"
	"parley/internal/notify"
	"parley/internal/realtime"
)

// OpsStats is the answer of GET /api/ops/stats: one node's view of the
// streams, consumers and projections (shared by every node) and of its own
// hub, presence, HTTP and queue counters.
type OpsStats struct {
	Node          string            `json:"node"`
	At            string            `json:"at"`
	StartedAt     string            `json:"started_at"`
	UptimeSeconds int64             `json:"uptime_seconds"`
	Streams       []StreamStats     `json:"streams"`
	Consumers     []ConsumerStats   `json:"consumers"`
	Truncated     bool              `json:"truncated,omitempty"`
	Projections   []ProjectionStats `json:"projections"`
	Hub           *HubStats         `json:"hub"`
	Presence      *PresenceStats    `json:"presence"`
	HTTP          HTTPStats         `json:"http"`
	Notifications NotificationStats `json:"notifications"`
	Webhooks      WebhookStats      `json:"webhooks"`
	// AppWebhooks is the Pusher-format app webhooks sent by this node.
	AppWebhooks realtime.AppWebhookStats `json:"app_webhooks"`
	// DeltaCache counts the deltas answered from the recent-events memory
	// (hits) and from the log (misses).
	DeltaCache engine.RecentStats `json:"delta_cache"`
	// Degraded lists what keeps the node from being ready, oldest first;
	// empty when nothing does.
	Degraded []Condition `json:"degraded"`
	// Disk is the data directory's filesystem (absent where the system
	// cannot say).
	Disk *DiskStats `json:"disk,omitempty"`
	// Durability is how an acknowledged event reaches the disk, and the
	// group commit's work on this node.
	Durability DurabilityStats `json:"durability"`
}

// DurabilityStats says what an acknowledgement means and how the log's
// appends are batched.
type DurabilityStats struct {
	// Mode is "fsync" (--sync always: on disk before the ack, survives a
	// power loss) or "interval" (written before the ack, fsynced every two
	// minutes: survives a killed process only).
	Mode string `json:"mode"`
	// GroupCommit is whether appends that arrive together are published as
	// one atomic batch (one fsync each).
	GroupCommit bool `json:"group_commit"`
	// Streams is the group commit's work per stream written (absent
	// without group commit).
	Streams []CommitStats `json:"streams"`
}

// CommitStats is one stream's group commit since this node started.
type CommitStats struct {
	Stream string `json:"stream"`
	// Batching is false after the stream refused atomic batches: each
	// append is then published on its own.
	Batching bool `json:"batching"`
	// Batches counts publishes (a batch or a lone event); Appends the
	// events they carried.
	Batches uint64 `json:"batches"`
	Appends uint64 `json:"appends"`
	// BatchesPerSecond is the rate over the last ten seconds.
	BatchesPerSecond float64 `json:"batches_per_second"`
	// Fallbacks counts batches refused as a whole (a duplicate key, a
	// full store) and then published one by one.
	Fallbacks uint64 `json:"fallbacks"`
	// Remembered counts retries answered from memory as duplicates,
	// without a publish.
	Remembered uint64 `json:"remembered"`
	// BatchSize is the distribution of events per publish; WaitSeconds of
	// the time an append waited for its batch to be stored.
	BatchSize   Histogram `json:"batch_size"`
	WaitSeconds Histogram `json:"wait_seconds"`
}

// Histogram is a distribution: Buckets[i].Count observations were at most
// Buckets[i].Le (cumulative, as in Prometheus); Count and Sum cover every
// observation.
type Histogram struct {
	Buckets []Bucket `json:"buckets"`
	Count   uint64   `json:"count"`
	Sum     float64  `json:"sum"`
}

// Bucket is one upper bound of a histogram and the observations up to it.
type Bucket struct {
	Le    float64 `json:"le"`
	Count uint64  `json:"count"`
}

// DiskStats is the data directory's filesystem, sampled every 2 s.
type DiskStats struct {
	Path       string `json:"path"`
	TotalBytes uint64 `json:"total_bytes"`
	FreeBytes  uint64 `json:"free_bytes"`
	// LowSpaceBytes is --low-space-mb: below it the node warns (0: off).
	LowSpaceBytes uint64 `json:"low_space_bytes"`
}

// Condition is one way the node is degraded, while it lasts.
type Condition struct {
	Component string `json:"component"`
	Reason    string `json:"reason"`
	// Severity is not_ready (/readyz fails while it lasts) or warning.
	Severity string `json:"severity"`
	Detail   string `json:"detail"`
	Since    string `json:"since"`
	// Failures counts the reports since it began (a paused projector's
	// retries).
	Failures int `json:"failures"`
}

// NotReady is the error a readiness check returns: Reason is a stable code
// (/readyz's reason), Detail the particulars.
type NotReady struct {
	Reason, Detail string
}

func (e *NotReady) Error() string { return e.Reason + ": " + e.Detail }

// StreamStats is one JetStream stream.
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

// ConsumerStats is one JetStream consumer: durable work queues and the
// ordered consumers projectors and watchers read with.
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

// ProjectionStats is one projection of this node: its checkpoint and how
// many events of its stream it has still to apply.
type ProjectionStats struct {
	Name          string `json:"name"`
	Stream        string `json:"stream"`
	Checkpoint    uint64 `json:"checkpoint"`
	StreamLastSeq uint64 `json:"stream_last_seq"`
	Lag           uint64 `json:"lag"`
	// LastAdvancedAt is when the projection last committed (or the node
	// started); StalledSeconds the time since then while it has a lag, 0
	// when it has none.
	LastAdvancedAt string  `json:"last_advanced_at"`
	StalledSeconds float64 `json:"stalled_seconds"`
}

// HubStats is this node's realtime hub.
type HubStats struct {
	Connections             int     `json:"connections"`
	Users                   int     `json:"users"`
	Subscriptions           int     `json:"subscriptions"`
	Channels                int     `json:"channels"`
	Published               uint64  `json:"published"`
	Delivered               uint64  `json:"delivered"`
	DeliveriesPerSecond     float64 `json:"deliveries_per_second"`
	SlowConsumerDisconnects uint64  `json:"slow_consumer_disconnects"`
}

// PresenceStats is presence as this node's watcher sees it.
type PresenceStats struct {
	OnlineUsers int `json:"online_users"`
}

// HTTPStats are this node's HTTP figures: totals since start, rates and
// latency percentiles over the last WindowSeconds. Long-lived connections
// (WebSocket, SSE) count as requests but not in the latencies.
type HTTPStats struct {
	Requests          uint64     `json:"requests"`
	ServerErrors      uint64     `json:"server_errors"`
	ClientErrors      uint64     `json:"client_errors"`
	WindowSeconds     int        `json:"window_seconds"`
	RequestsPerSecond float64    `json:"requests_per_second"`
	ErrorRate         float64    `json:"error_rate"`
	LatencyMillis     Percentile `json:"latency_ms"`
}

// Percentile holds latency percentiles in milliseconds.
type Percentile struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
}

// NotificationStats is the notifications work queue on this node.
type NotificationStats struct {
	Enabled bool `json:"enabled"`
	notify.NotifierStats
	Queue QueueStats `json:"queue"`
	// DeadLetters is the dead letters stored (all kinds, every node).
	DeadLetters int64 `json:"dead_letters"`
	// EventsPerSecond is the MESSAGES events this node projected per second
	// over the last ten seconds: the log's throughput.
	EventsPerSecond float64 `json:"events_per_second"`
}

// WebhookStats is webhook delivery on this node.
type WebhookStats struct {
	notify.WebhookStats
	Queue QueueStats `json:"queue"`
}

// QueueStats are a work queue's outcomes on this node.
type QueueStats struct {
	Acked   uint64 `json:"acked"`
	Retried uint64 `json:"retried"`
	Dead    uint64 `json:"dead"`
	// Extended counts the jobs handled more than a tenth of the ack wait
	// after their fetch began, which were marked in progress first.
	Extended uint64 `json:"extended"`
}

// StatsPoint is one stored snapshot, as the history serves it: the figures
// the /ops charts draw.
type StatsPoint struct {
	At                    string            `json:"at"`
	Node                  string            `json:"node"`
	EventsPerSecond       float64           `json:"events_per_second"`
	MessagesLastSeq       uint64            `json:"messages_last_seq"`
	ProjectionLag         map[string]uint64 `json:"projection_lag"`
	ConsumerPending       map[string]uint64 `json:"consumer_pending"`
	Connections           int               `json:"connections"`
	HTTPRequestsPerSecond float64           `json:"http_requests_per_second"`
	HTTPErrorRate         float64           `json:"http_error_rate"`
	WebhooksDead          uint64            `json:"webhooks_dead"`
}

// StatsHistory is the answer of GET /api/ops/stats/history: snapshots from
// Since on, oldest first, every node's.
type StatsHistory struct {
	Since           string       `json:"since"`
	IntervalSeconds int          `json:"interval_seconds"`
	Points          []StatsPoint `json:"points"`
	NextCursor      *string      `json:"next_cursor"`
}
