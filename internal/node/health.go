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
	since          time.Time
	failures       int
}

func newHealth(logger *slog.Logger) *health {
	return &health{logger: logger, conds: map[string]*condition{}}
}

// set records that component is degraded for reason (err says how); the
// first report logs, later ones only update the detail.
func (h *health) set(component, reason string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.conds[component]; ok && c.reason == reason {
		c.detail, c.failures = err.Error(), c.failures+1
		return
	}
	h.conds[component] = &condition{reason: reason, detail: err.Error(), since: time.Now(), failures: 1}
	h.n.Store(int32(len(h.conds)))
	h.logger.Error("degraded: "+component+" "+reason, "component", component, "reason", reason, "err", err)
}

// clear ends component's condition, if it has one. Cheap when none is held:
// projectors call it after every commit.
func (h *health) clear(component string) {
	if h.n.Load() == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.conds[component]
	if !ok {
		return
	}
	delete(h.conds, component)
	h.n.Store(int32(len(h.conds)))
	h.logger.Info("recovered: "+component, "component", component, "reason", c.reason,
		"lasted", time.Since(c.since).Round(time.Millisecond), "failures", c.failures)
}

// has reports whether component is degraded.
func (h *health) has(component string) bool {
	if h.n.Load() == 0 {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
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
	out := make([]api.Condition, 0, len(h.conds))
	for name, c := range h.conds {
		out = append(out, api.Condition{Component: name, Reason: c.reason, Detail: c.detail,
			Since: c.since.UTC().Format(time.RFC3339Nano), Failures: c.failures})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since < out[j].Since })
	return out
}
