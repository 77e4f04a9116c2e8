package node

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"parley/api"
	"parley/internal/notify"
	"parley/projections"
	"parley/streams"
)

// opsRuntime is the node's notifications, webhooks, stats and history.
type opsRuntime struct {
	started  time.Time
	name     string
	notifs   *streams.Notifications
	view     *projections.Notifications
	service  *notify.NotificationService
	notifier *notify.Notifier
	notifyQ  *streams.WorkQueue
	webhooks *notify.Webhooks
	hookQ    *streams.WorkQueue
	history  *streams.StatsHistory
	events   *rateMeter   // MESSAGES events projected here
	advanced atomic.Int64 // when the notifications projector last committed (Unix ns)
	delivers *rateMeter   // hub deliveries

	snapMu   sync.Mutex
	prevSeq  uint64
	prevTime time.Time

	runCtx context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startOps opens the notifications stream and its projector, the work
// queues, the stats history and the samplers, and returns what the API
// needs. It runs after the messages projector started.
func (m *Node) startOps(ctx context.Context) (*api.Ops, *notify.NotificationService, error) {
	cfg := m.Config.OpsConfig
	o := &opsRuntime{started: time.Now(), name: cfg.NodeName, events: newRateMeter(), delivers: newRateMeter()}
	if o.name == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			o.name = h
		} else {
			o.name = "parley"
		}
	}
	var err error
	if o.notifs, err = m.conn.Notifications(ctx, streams.NotificationsConfig{Replicas: m.Config.Replicas, DuplicateWindow: m.Config.DuplicateWindow}); err != nil {
		return nil, nil, err
	}
	if o.view, err = projections.NewNotifications(ctx, m.db); err != nil {
		return nil, nil, err
	}
	if o.history, err = m.conn.StatsHistory(ctx, streams.StatsHistoryConfig{Retention: cfg.StatsRetention, Replicas: m.Config.Replicas,
		MaxBytes: int64(cfg.StatsMaxMB) << 20}); err != nil {
		err = m.storeAdvice(err)
		return nil, nil, err
	}
	o.service = notify.NewNotificationService(o.notifs, o.view, m.Config.ApplyTimeout)
	if err := m.startQueues(ctx, o); err != nil {
		return nil, nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	o.cancel = cancel
	m.ops = o
	o.advanced.Store(time.Now().UnixNano())
	o.view.OnPause(func(err error) { m.health.set(notificationsComponent, ReasonProjectorPaused, err) },
		func() { o.advanced.Store(time.Now().UnixNano()); m.health.clear(notificationsComponent) })
	o.goRun(func() { o.view.Run(runCtx, o.notifs.Log().Tail, m.Logger.With("component", "notifications-projector")) })
	for _, q := range []*streams.WorkQueue{o.notifyQ, o.hookQ} {
		if q != nil {
			o.goRun(func() { _ = q.Run(runCtx) })
		}
	}
	o.goRun(func() { m.sampleRates(runCtx) })
	m.sampleDisk()
	o.goRun(func() { m.watchDisk(runCtx) })
	o.runCtx = runCtx

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: "parley"}))
	return &api.Ops{Stats: m.opsStats, History: m.opsHistory, Registry: reg}, o.service, nil
}

// startSnapshots starts storing stats snapshots; Run calls it once the API
// (whose HTTP figures the snapshots include) exists.
func (m *Node) startSnapshots() {
	o := m.ops
	o.goRun(func() { m.recordSnapshots(o.runCtx) })
}

func (o *opsRuntime) goRun(fn func()) {
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		fn()
	}()
}

// startQueues creates the durable consumers this node pulls from.
func (m *Node) startQueues(ctx context.Context, o *opsRuntime) error {
	cfg := m.Config.OpsConfig
	logger := m.Logger.With("component", "notifications")
	if cfg.Notifications {
		var online notify.OnlineChecker
		if m.rt != nil {
			online = m.rt.presence
		}
		window := cfg.NotifyWindow
		if window == 0 {
			window = -1 // engine: negative turns batching off
		}
		o.notifier = notify.NewNotifier(o.notifs, m.db, online, notify.NotifierConfig{
			Window: window, AfterAppend: cfg.NotifyAfterAppend, Members: m.members, Recent: m.recent,
			Windows: o.view, Logger: logger})
		o.view.OnWindows(o.notifier.Observe) // before the projector runs: every node's windows reach the notifier
		q, err := m.conn.WorkQueue(ctx, streams.WorkConfig{
			Stream: streams.StreamName, Durable: streams.NotifyConsumer, FilterSubject: streams.MessagesFilter,
			MaxAttempts: cfg.NotifyMaxAttempts, RetryBase: cfg.NotifyRetry, RetryMax: time.Minute,
			Workers: cfg.NotifyWorkers, Logger: logger}, o.notifier)
		if err != nil {
			return err
		}
		o.notifyQ = q
	}
	if cfg.WebhookURL != "" {
		hl := m.Logger.With("component", "webhooks")
		o.webhooks = notify.NewWebhooks(notify.WebhookConfig{URL: cfg.WebhookURL, Secret: []byte(cfg.WebhookSecret),
			Sender: m.webhooks, Logger: hl}, o.view, o.notifs)
		q, err := m.conn.WorkQueue(ctx, streams.WorkConfig{
			Stream: streams.NotificationsStream, Durable: streams.WebhookConsumer, FilterSubject: streams.NotificationsFilter,
			MaxAttempts: cfg.WebhookMaxAttempts, RetryBase: cfg.WebhookRetry, RetryMax: 10 * time.Minute,
			AckWait: max(30*time.Second, 2*cfg.WebhookTimeout+10*time.Second), Workers: cfg.WebhookWorkers, Logger: hl}, o.webhooks)
		if err != nil {
			return err
		}
		o.hookQ = q
	}
	return nil
}

// stopOps stops the queues (jobs in hand finish or go back), the samplers
// and the notifications projector. Close calls it before the messages
// projector and NATS stop.
func (m *Node) stopOps() {
	if m.ops == nil {
		return
	}
	m.ops.cancel()
	m.ops.wg.Wait()
	m.ops = nil
}

// ready is /readyz: nothing degraded (see health), NATS connected,
// JetStream answering, projections within --ready-max-lag of their streams.
// Its error is an *api.NotReady carrying the reason.
func (m *Node) ready() error {
	for _, c := range m.health.list() {
		if c.Severity == SeverityNotReady {
			return &api.NotReady{Reason: c.Reason, Detail: c.Component + ": " + c.Detail}
		}
	}
	if !m.conn.Connected() {
		return &api.NotReady{Reason: ReasonLogUnavailable, Detail: "nats: not connected"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := m.conn.JetStreamReady(ctx); err != nil {
		return &api.NotReady{Reason: ReasonLogUnavailable, Detail: "jetstream: " + err.Error()}
	}
	last, err := m.conn.Log().LastSeq(ctx)
	if err != nil {
		return &api.NotReady{Reason: ReasonLogUnavailable, Detail: "jetstream: " + err.Error()}
	}
	limit := uint64(m.Config.ReadyMaxLag)
	if lag := last - min(last, m.db.Applied()); lag > limit {
		return &api.NotReady{Reason: ReasonProjectionBehind, Detail: fmt.Sprintf("projection messages is %d events behind", lag)}
	}
	if o := m.ops; o != nil {
		nlast, err := o.notifs.Log().LastSeq(ctx)
		if err != nil {
			return &api.NotReady{Reason: ReasonLogUnavailable, Detail: "jetstream: " + err.Error()}
		}
		if lag := nlast - min(nlast, o.view.Applied()); lag > limit {
			return &api.NotReady{Reason: ReasonProjectionBehind, Detail: fmt.Sprintf("projection notifications is %d events behind", lag)}
		}
	}
	return nil
}

// rebuildNotifications brings a read-model file that is being rebuilt up to
// the NOTIFICATIONS stream's tail, so that once it is swapped in it serves
// notifications at once. Without it the notifications projector notices the
// swap and re-projects the stream into the new file by itself, and
// notifications are incomplete for that moment. (For upgrade.go's
// rebuildAndSwap, before CloseBuilt.)
func (m *Node) rebuildNotifications(ctx context.Context, db *projections.DB) error {
	if m.ops == nil {
		return nil
	}
	last, err := m.ops.notifs.Log().LastSeq(ctx)
	if err != nil || last == 0 {
		return err
	}
	return projections.RebuildNotifications(ctx, db, m.ops.notifs.Log().ReadRange, last)
}
