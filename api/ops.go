package api

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"parley/engine"
	"parley/internal/notify"
)

// Ops wires the operations side: stats, their history and the metrics
// registry. The node provides it; a nil Ops answers the ops routes with 503.
type Ops struct {
	// Stats gathers the node's figures except HTTP, which the API adds.
	Stats func(ctx context.Context) (*OpsStats, error)
	// History reads stored snapshots from since on, or after cursor.
	History func(ctx context.Context, since time.Time, cursor string, limit int) (*StatsHistory, error)
	// Registry receives the API's metrics and is what /metrics serves;
	// nil makes a private one.
	Registry *prometheus.Registry
}

// opsParts is the API's operations state.
type opsParts struct {
	cfg           *Ops
	notifications *notify.NotificationService
	metrics       *httpMetrics
	registry      *prometheus.Registry
}

// History paging.
const (
	defaultHistoryPage = 1000
	maxHistoryPage     = 5000
	defaultHistorySpan = 24 * time.Hour
)

var errOpsOff = engine.Errorf(engine.KindUnavailable, "ops_unavailable", "operations data is not available on this server")

// initOps sets up metrics; New calls it before registering routes.
func (s *Server) initOps(cfg Config) {
	s.ops.cfg, s.ops.notifications = cfg.Ops, cfg.Notifications
	if cfg.Ops != nil && cfg.Ops.Registry != nil {
		s.ops.registry = cfg.Ops.Registry
	} else {
		s.ops.registry = prometheus.NewRegistry()
	}
	s.ops.metrics = newHTTPMetrics(s.ops.registry)
	s.ops.registry.MustRegister(statsCollector{s: s})
	s.echo.Use(s.measure)
}

// opsRoutes registers the operations routes: the stats API (ops token),
// the dashboard, /metrics (ops token) and the OpenAPI document.
func (s *Server) opsRoutes() {
	e := s.echo
	e.GET("/api/ops/stats", s.getOpsStats, s.requireOps)
	e.GET("/api/ops/stats/history", s.getOpsHistory, s.requireOps)
	e.GET("/api/ops/dead-letters", s.getDeadLetters, s.requireOps)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.ops.registry, promhttp.HandlerOpts{})), s.requireOps)
	e.GET("/ops", s.opsPage)
	e.GET("/ops/:asset", s.opsAsset)
	e.GET("/openapi.json", s.openAPI)
}

// opsStats is the full stats snapshot: the node's figures and the API's.
func (s *Server) opsStats(ctx context.Context) (*OpsStats, error) {
	if s.ops.cfg == nil || s.ops.cfg.Stats == nil {
		return nil, errOpsOff
	}
	st, err := s.ops.cfg.Stats(ctx)
	if err != nil {
		return nil, err
	}
	st.HTTP = s.ops.metrics.stats()
	return st, nil
}

// OpsStats returns the stats snapshot GET /api/ops/stats answers with.
func (s *Server) OpsStats(ctx context.Context) (*OpsStats, error) { return s.opsStats(ctx) }

func (s *Server) getOpsStats(c echo.Context) error {
	st, err := s.opsStats(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, st)
}

// getOpsHistory serves GET /api/ops/stats/history?since=&limit=&cursor=.
// since is an RFC 3339 time or a duration back from now ("6h"); the
// default is the last 24 hours.
func (s *Server) getOpsHistory(c echo.Context) error {
	if s.ops.cfg == nil || s.ops.cfg.History == nil {
		return errOpsOff
	}
	since, err := parseSince(c.QueryParam("since"), time.Now())
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	switch {
	case limit == 0:
		limit = defaultHistoryPage
	case limit > maxHistoryPage:
		return engine.Errorf(engine.KindInvalid, "invalid_limit", "limit must be between 1 and %d", maxHistoryPage)
	}
	h, err := s.ops.cfg.History(c.Request().Context(), since, c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h)
}

// parseSince reads the since parameter.
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return now.Add(-defaultHistorySpan), nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Time{}, engine.Errorf(engine.KindMalformed, "invalid_since", "since must be an RFC 3339 time or a duration such as 6h")
}

// getDeadLetters serves GET /api/ops/dead-letters?limit=&cursor=.
func (s *Server) getDeadLetters(c echo.Context) error {
	if s.ops.notifications == nil {
		return errOpsOff
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	page, err := s.ops.notifications.DeadLetters(c.Request().Context(), c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}
