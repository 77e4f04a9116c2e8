package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"parley/internal/node"
	"parley/streams"
)

// openToolLog reaches the log for a tool: the given NATS URL, else the
// server running on the data dir (its nats.url; served is then true), else
// an embedded server of its own on the data dir when none runs.
func openToolLog(ctx context.Context, dataDir, natsURL string) (conn *streams.Conn, served bool, err error) {
	if natsURL != "" {
		conn, err = streams.Open(ctx, streams.Config{URL: natsURL, Existing: true})
		return conn, false, err
	}
	if u := node.ToolURL(dataDir); u != "" {
		if c, err := streams.Open(ctx, streams.Config{URL: u, Existing: true, NoReconnect: true}); err == nil {
			return c, true, nil
		}
	}
	if _, err := os.Stat(dataDir); err != nil {
		return nil, false, fmt.Errorf("data dir: %w", err)
	}
	conn, err = streams.Open(ctx, streams.Config{DataDir: dataDir, Existing: true})
	return conn, false, err
}

// progressPrinter reports a long run: a progress bar on a terminal, a plain
// line every two seconds otherwise.
func progressPrinter(w io.Writer, label string, total uint64) (update func(done, total uint64, elapsed time.Duration), finish func()) {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar := progressbar.NewOptions64(int64(total), progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(label),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetPredictTime(true), progressbar.OptionFullWidth())
		return func(done, _ uint64, _ time.Duration) { _ = bar.Set64(int64(done)) }, func() { _ = bar.Finish(); fmt.Fprintln(w) }
	}
	var last time.Time
	return func(done, total uint64, elapsed time.Duration) {
		if time.Since(last) < 2*time.Second && done < total {
			return
		}
		last = time.Now()
		rate := float64(done) / max(elapsed.Seconds(), 1e-9)
		eta := time.Duration(float64(total-done)/max(rate, 1e-9)) * time.Second / time.Second
		fmt.Fprintf(w, "%s: %d/%d events, %.0f events/s, ETA %s\n", label, done, total, rate, eta.Round(time.Second))
	}, func() {}
}
