package node

import (
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"parley/api"
)

// Reasons a node is degraded: /readyz answers 503 with one of them while it
// lasts, and /api/ops/stats lists them.
const (
	// ReasonProjectorPaused: a projector's SQLite write failed (a full disk,
	// an I/O error, a lock held too long); it retries from its checkpoint.
	ReasonProjectorPaused = "projector_paused"
	// ReasonLogUnavailable: NATS or JetStream does not answer.
	ReasonLogUnavailable = "log_unavailable"
	// ReasonProjectionBehind: a projection is further behind its stream
	// than --ready-max-lag.
	ReasonProjectionBehind = "projection_behind"
	// ReasonStorageFull: the log refused a write for want of space (its
	// disk, or --max-log-bytes).
	ReasonStorageFull = "storage_full"
	// ReasonLowSpace: the data directory's filesystem has less free space
	// than --low-space-mb. A warning: the node stays ready.
	ReasonLowSpace = "low_space"
)

// Severities of a condition: one that keeps the node from being ready, and
// one that only warns.
const (
	SeverityNotReady = "not_ready"
	SeverityWarning  = "warning"
)

// health holds the conditions that make a node degraded, each under the
// name of the component it concerns. A condition is logged once when it
// begins and once when it ends, however often it is reported in between.
type health struct {
	logger *slog.Logger
	n      atomic.Int32 // conditions held: clear's fast path
	mu     sync.Mutex
	conds  map[string]*condition
}

// condition is one component's degraded state.
type condition struct {
	reason, detail string
	since, last    time.Time
	failures       int
	lapse          time.Duration // > 0: it ends by itself this long after its last report
	warning        bool          // reported, logged, but the node stays ready
}

func newHealth(logger *slog.Logger) *health {
	return &health{logger: logger, conds: map[string]*condition{}}
}

// set records that component is degraded for reason (err says how); the
// first report logs, later ones only update the detail. It lasts until
// clear.
func (h *health) set(component, reason string, err error) { h.record(component, reason, err, 0, false) }

// warn records a condition that does not keep the node from being ready.
func (h *health) warn(component, reason string, err error) { h.record(component, reason, err, 0, true) }

// setFor is set for a condition nothing may come to clear (writes refused
// while clients have gone elsewhere): it also ends lapse after its last
// report.
func (h *health) setFor(component, reason string, err error, lapse time.Duration) {
	h.record(component, reason, err, lapse, false)
}

func (h *health) record(component, reason string, err error, lapse time.Duration, warning bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if c, ok := h.conds[component]; ok && c.reason == reason {
		c.detail, c.failures, c.last = err.Error(), c.failures+1, now
		return
	}
	h.conds[component] = &condition{reason: reason, detail: err.Error(), since: now, last: now, failures: 1, lapse: lapse, warning: warning}
	h.n.Store(int32(len(h.conds)))
	if warning {
		h.logger.Warn("warning: "+component+" "+reason, "component", component, "reason", reason, "err", err)
		return
	}
	h.logger.Error("degraded: "+component+" "+reason, "component", component, "reason", reason, "err", err)
}

// expireLocked ends the conditions whose lapse has passed.
func (h *health) expireLocked() {
	for name, c := range h.conds {
		if c.lapse > 0 && time.Since(c.last) > c.lapse {
			h.endLocked(name, c, "no failure for "+c.lapse.String())
		}
	}
}

// endLocked removes a condition and logs its end.
func (h *health) endLocked(component string, c *condition, why string) {
	delete(h.conds, component)
	h.n.Store(int32(len(h.conds)))
	h.logger.Info("recovered: "+component, "component", component, "reason", c.reason, "how", why,
		"lasted", time.Since(c.since).Round(time.Millisecond), "failures", c.failures)
}

// clear ends component's condition, if it has one. Cheap when none is held:
// projectors call it after every commit, the log after every append.
func (h *health) clear(component string) {
	if h.n.Load() == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.conds[component]; ok {
		h.endLocked(component, c, "it worked again")
	}
}

// has reports whether component is degraded.
func (h *health) has(component string) bool {
	if h.n.Load() == 0 {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expireLocked()
	_, ok := h.conds[component]
	return ok
}

// list returns the conditions held, oldest first.
func (h *health) list() []api.Condition {
	if h.n.Load() == 0 {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expireLocked()
	out := make([]api.Condition, 0, len(h.conds))
	for name, c := range h.conds {
		sev := SeverityNotReady
		if c.warning {
			sev = SeverityWarning
		}
		out = append(out, api.Condition{Component: name, Reason: c.reason, Severity: sev, Detail: c.detail,
			Since: c.since.UTC().Format(time.RFC3339Nano), Failures: c.failures})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since < out[j].Since })
	return out
}
