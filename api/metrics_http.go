package api

import (
	"errors"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"parley/engine"
)

// httpWindow is the span, in seconds, of the HTTP rates and percentiles.
const httpWindow = 60

// latencyBounds are the upper bounds (ms) of the latency buckets the
// percentiles come from: 0.05 ms doubling to about 52 s, then +Inf.
var latencyBounds = func() []float64 {
	b := make([]float64, 0, 21)
	for v := 0.05; len(b) < 21; v *= 2 {
		b = append(b, v)
	}
	return b
}()

// secBucket is one second of the window.
type secBucket struct {
	sec    int64
	n      uint64
	errs   uint64
	counts [22]uint32 // one per latencyBounds entry, then +Inf
}

// httpMetrics counts requests: totals, a one-minute window of per-second
// buckets for rates and percentiles, and the Prometheus series.
type httpMetrics struct {
	requests, serverErrors, clientErrors atomic.Uint64

	mu      sync.Mutex
	buckets [httpWindow]secBucket

	reqTotal *prometheus.CounterVec
	duration *prometheus.HistogramVec
	errCodes *prometheus.CounterVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		reqTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Subsystem: "http",
			Name: "requests_total", Help: "HTTP requests by method, route and status."}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metricsNamespace, Subsystem: "http",
			Name: "request_duration_seconds", Help: "HTTP request latency by method and route (WebSocket and SSE excluded).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"method", "route"}),
		errCodes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Subsystem: "http",
			Name: "errors_total", Help: "HTTP error answers by error code."}, []string{"code"}),
	}
	reg.MustRegister(m.reqTotal, m.duration, m.errCodes)
	return m
}

// longLived reports whether a route holds its connection open (its
// duration is not a latency).
func longLived(route string) bool { return route == "/app/:key" || route == "/api/stream" }

// measure is the middleware that counts every request. It renders a
// handler's error itself (as echo's logger middleware does) so the status
// is known when it counts.
func (s *Server) measure(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		s.ops.metrics.observe(methodLabel(c.Request().Method), route, c.Response().Status, errorCode(err), time.Since(start))
		return nil
	}
}

// errorCode is the code an error answer carries, "" for none.
func errorCode(err error) string {
	if err == nil {
		return ""
	}
	if e := engine.AsError(err); e != nil {
		return e.Code
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return httpCode(he.Code)
	}
	return "internal"
}

func (m *httpMetrics) observe(method, route string, status int, code string, d time.Duration) {
	m.requests.Add(1)
	serverErr := status >= 500
	switch {
	case serverErr:
		m.serverErrors.Add(1)
	case status >= 400:
		m.clientErrors.Add(1)
	}
	m.reqTotal.WithLabelValues(method, route, statusLabel(status)).Inc()
	if code != "" {
		m.errCodes.WithLabelValues(code).Inc()
	}
	long := longLived(route)
	if !long {
		m.duration.WithLabelValues(method, route).Observe(d.Seconds())
	}
	ms := float64(d) / float64(time.Millisecond)
	now := time.Now().Unix()
	m.mu.Lock()
	b := &m.buckets[now%httpWindow]
	if b.sec != now {
		*b = secBucket{sec: now}
	}
	b.n++
	if serverErr {
		b.errs++
	}
	if !long {
		i := 0
		for i < len(latencyBounds) && ms > latencyBounds[i] {
			i++
		}
		b.counts[i]++
	}
	m.mu.Unlock()
}

// methodLabel keeps the method label's values few: clients choose methods.
func methodLabel(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return m
	}
	return "other"
}

// statusLabel keeps the status label's values few and known.
func statusLabel(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status)
}

// stats returns the totals and the figures of the last window.
func (m *httpMetrics) stats() HTTPStats {
	st := HTTPStats{Requests: m.requests.Load(), ServerErrors: m.serverErrors.Load(),
		ClientErrors: m.clientErrors.Load(), WindowSeconds: httpWindow}
	now := time.Now().Unix()
	var n, errs uint64
	var counts [22]uint64
	m.mu.Lock()
	for i := range m.buckets {
		b := &m.buckets[i]
		if b.sec <= now-httpWindow || b.sec > now {
			continue
		}
		n += b.n
		errs += b.errs
		for j, c := range b.counts {
			counts[j] += uint64(c)
		}
	}
	m.mu.Unlock()
	st.RequestsPerSecond = round2(float64(n) / httpWindow)
	if n > 0 {
		st.ErrorRate = round4(float64(errs) / float64(n))
	}
	st.LatencyMillis = Percentile{P50: percentile(counts[:], 0.50), P90: percentile(counts[:], 0.90), P99: percentile(counts[:], 0.99)}
	return st
}

// percentile estimates the p-th latency (ms) from bucket counts,
// interpolating inside the bucket it falls in.
func percentile(counts []uint64, p float64) float64 {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := p * float64(total)
	var seen float64
	for i, c := range counts {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			lo := 0.0
			if i > 0 {
				lo = latencyBounds[i-1]
			}
			if i >= len(latencyBounds) {
				return round2(lo)
			}
			hi := latencyBounds[i]
			return round2(lo + (hi-lo)*(rank-seen)/float64(c))
		}
		seen += float64(c)
	}
	return round2(latencyBounds[len(latencyBounds)-1])
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
func round4(v float64) float64 { return math.Round(v*10000) / 10000 }
