package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"parley/engine"
)

// attachmentFile is a valid PNG header padded to size bytes.
func attachmentFile(size int) []byte {
	b := make([]byte, size)
	copy(b, "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	for i := 16; i < size; i++ {
		b[i] = byte(i * 31)
	}
	return b
}

// benchAttachments uploads --attachment-kib files with 8 clients for
// --duration (at most 10 s), then downloads them for as long: MB/s,
// latency per file and server CPU per MiB each way.
func benchAttachments(ctx context.Context, c benchConfig, stderr io.Writer) ([]Result, error) {
	s, err := startBenchServer(ctx, c, stderr)
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	size := c.AttachmentKiB << 10
	file := attachmentFile(size)
	const clients = 8
	window := min(c.Duration, 10*time.Second)
	tok := s.token("bench-uploader")
	var mu sync.Mutex
	var ids []string
	transfer := func(name string, one func() error) Result {
		var lat latencies
		var ok, errs atomic.Int64
		cpu0, t0 := s.cpu(), time.Now()
		deadline := t0.Add(window)
		var wg sync.WaitGroup
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) && ctx.Err() == nil {
					start := time.Now()
					if err := one(); err != nil {
						errs.Add(1)
						continue
					}
					lat.add(time.Since(start))
					ok.Add(1)
				}
			}()
		}
		wg.Wait()
		elapsed, cpu := time.Since(t0), s.cpu()-cpu0
		mib := float64(ok.Load()) * float64(size) / (1 << 20)
		r := Result{Workload: "attachments", Errors: errs.Load(),
			Params: map[string]any{"direction": name, "file_kib": c.AttachmentKiB, "clients": clients, "duration_s": window.Seconds()},
			Extra:  map[string]any{"mib_per_s": mib / elapsed.Seconds(), "files_per_s": float64(ok.Load()) / elapsed.Seconds()}}
		if mib > 0 && cpu > 0 {
			r.Extra["server_cpu_ms_per_mib"] = float64(cpu.Microseconds()) / 1000 / mib
		}
		lat.fill(&r)
		return r
	}
	up := transfer("upload", func() error {
		req, err := http.NewRequest("POST", s.URL+"/api/attachments?name=bench.png", bytes.NewReader(file))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "image/png")
		resp, err := s.client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var info engine.AttachmentInfo
		if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&info) != nil {
			return fmt.Errorf("upload: %d", resp.StatusCode)
		}
		mu.Lock()
		ids = append(ids, info.ID)
		mu.Unlock()
		return nil
	})
	if len(ids) == 0 {
		return nil, fmt.Errorf("no upload succeeded (%d errors)", up.Errors)
	}
	var next atomic.Int64
	down := transfer("download", func() error {
		id := ids[int(next.Add(1))%len(ids)]
		req, err := http.NewRequest("GET", s.URL+"/api/attachments/"+id, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := s.client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK || n != int64(size) {
			return fmt.Errorf("download: %d, %d bytes, %v", resp.StatusCode, n, err)
		}
		return nil
	})
	return []Result{up, down}, nil
}
