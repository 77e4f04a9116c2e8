package streams

import (
	"sync"
	"sync/atomic"
	"time"
)

// BatchSizeBounds are the upper bounds of the batch size histogram's
// buckets (events per publish; the last bucket is MaxBatchEvents).
var BatchSizeBounds = []float64{1, 2, 4, 8, 16, 32, 64, 128, MaxBatchEvents}

// CommitWaitBounds are the upper bounds, in seconds, of the histogram of
// the time an append waited for its batch (queued to answered).
var CommitWaitBounds = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

// Histogram is a snapshot of a histogram: Counts[i] is the observations at
// most Bounds[i] (cumulative, as Prometheus has them); Count and Sum cover
// every observation, those above the last bound too.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

// CommitStats is one stream's group commit since the node started.
type CommitStats struct {
	Stream string
	// Batching is false once the stream refused atomic batches (each
	// append is then published on its own).
	Batching bool
	// Batches counts publishes (an atomic batch or a lone event), Appends
	// the events they carried.
	Batches, Appends uint64
	// Fallbacks counts batches the stream refused as a whole (a duplicate
	// key, a full store) whose events were then published one by one.
	Fallbacks uint64
	// Remembered counts appends answered as duplicates from the
	// committer's memory of recent keys, without a publish.
	Remembered uint64
	// BatchesPerSecond is the rate over the last ten seconds.
	BatchesPerSecond float64
	BatchSize        Histogram
	WaitSeconds      Histogram
}

// commitStats counts a committer's work.
type commitStats struct {
	start      time.Time
	fallbacks  atomic.Uint64
	remembered atomic.Uint64

	mu      sync.Mutex
	batches uint64
	appends uint64
	size    histogram
	wait    histogram
	// perSecond counts batches by Unix second, in a ring of rateSeconds+1.
	perSecond [rateSeconds + 1]struct {
		sec int64
		n   uint64
	}
}

// rateSeconds is the window of BatchesPerSecond.
const rateSeconds = 10

type histogram struct {
	counts []uint64 // per bucket, the last one above every bound
	count  uint64
	sum    float64
}

func (h *histogram) observe(bounds []float64, v float64) {
	if h.counts == nil {
		h.counts = make([]uint64, len(bounds)+1)
	}
	i := 0
	for i < len(bounds) && v > bounds[i] {
		i++
	}
	h.counts[i]++
	h.count++
	h.sum += v
}

func (h *histogram) snapshot(bounds []float64) Histogram {
	out := Histogram{Bounds: bounds, Counts: make([]uint64, len(bounds)), Count: h.count, Sum: h.sum}
	var run uint64
	for i := range bounds {
		if h.counts != nil {
			run += h.counts[i]
		}
		out.Counts[i] = run
	}
	return out
}

// batch records one publish of n events.
func (s *commitStats) batch(n int) {
	now := time.Now().Unix()
	s.mu.Lock()
	s.batches++
	s.appends += uint64(n)
	s.size.observe(BatchSizeBounds, float64(n))
	slot := &s.perSecond[now%int64(len(s.perSecond))]
	if slot.sec != now {
		slot.sec, slot.n = now, 0
	}
	slot.n++
	s.mu.Unlock()
}

// waited records how long one append waited for its answer.
func (s *commitStats) waited(d time.Duration) {
	s.mu.Lock()
	s.wait.observe(CommitWaitBounds, d.Seconds())
	s.mu.Unlock()
}

func (s *commitStats) snapshot(stream string, batching bool) CommitStats {
	now := time.Now().Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := CommitStats{Stream: stream, Batching: batching, Batches: s.batches, Appends: s.appends,
		Fallbacks: s.fallbacks.Load(), Remembered: s.remembered.Load(),
		BatchSize: s.size.snapshot(BatchSizeBounds), WaitSeconds: s.wait.snapshot(CommitWaitBounds)}
	// The last rateSeconds seconds (the current one included), or the
	// time since the start when that is shorter (at least a second).
	var n uint64
	for _, slot := range s.perSecond {
		if slot.sec > now-rateSeconds && slot.sec <= now {
			n += slot.n
		}
	}
	out.BatchesPerSecond = float64(n) / min(float64(rateSeconds), max(time.Since(s.start).Seconds(), 1))
	return out
}

// Stats is the committer's work so far.
func (c *committer) Stats() CommitStats { return c.stats.snapshot(c.stream, c.batching.Load()) }
