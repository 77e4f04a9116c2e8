package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"parley/api"
)

// token mints a token for a bench user.
func (s *benchServer) token(user string) string {
	t, err := api.MintToken(s.Secret, user, user, false, 24*time.Hour)
	if err != nil {
		panic(err)
	}
	return t
}

// do sends one request and decodes a 2xx answer into out.
func (s *benchServer) do(method, path, token string, body any, out any) (int, error) {
	status, raw, err := s.fetch(method, path, token, body)
	if err != nil || out == nil {
		return status, err
	}
	return status, json.Unmarshal(raw, out)
}

// fetch sends one request and returns the whole answer, undecoded: the
// read workloads time the request up to the last byte received and decode
// after the clock stops, so the harness's own JSON decoding (on the same
// cores) is not counted as server latency.
func (s *benchServer) fetch(method, path, token string, body any) (int, []byte, error) {
	return s.fetchInto(nil, method, path, token, body)
}

// fetchInto is fetch reading the answer into buf, reset first (nil: a new
// one), so a measured loop reusing it makes little garbage: the harness's
// collector would otherwise run beside the server on the shared cores and
// show in the server's tail latency.
func (s *benchServer) fetchInto(buf *bytes.Buffer, method, path, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return resp.StatusCode, nil, err
	}
	raw := buf.Bytes()
	if resp.StatusCode >= 300 {
		return resp.StatusCode, raw, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, raw, nil
}

// latencies collects request durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// fill sets the percentile fields of r.
func (l *latencies) fill(r *Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return
	}
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	at := func(q float64) float64 {
		i := int(q * float64(len(l.d)-1))
		return float64(l.d[i].Microseconds()) / 1000
	}
	r.P50Ms, r.P90Ms, r.P99Ms = at(0.50), at(0.90), at(0.99)
	r.MaxMs = float64(l.d[len(l.d)-1].Microseconds()) / 1000
}
