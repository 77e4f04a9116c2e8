package main

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
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(raw, out)
	}
	return resp.StatusCode, nil
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
func (l *latencies) fill(r *benchResult) {
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
