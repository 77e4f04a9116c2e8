package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"parley/api"
	"parley/internal/node"
	"parley/projections"
	"parley/streams"
)

func runStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("stats", stderr)
	base := fs.String("url", "http://127.0.0.1:8080", "base URL of the running server")
	token := fs.String("token", "", "ops token (default: one minted with the data dir's secret)")
	dataDir := fs.String("data", "./data", "data directory holding the JWT secret (to mint an ops token)")
	secret := fs.String("jwt-secret", "", "HS256 secret to mint the ops token with (default: the data dir's)")
	watch := fs.Bool("watch", false, "refresh until interrupted")
	interval := fs.Duration("interval", 2*time.Second, "refresh interval with --watch")
	asJSON := fs.Bool("json", false, "print the raw JSON answer")
	if err := parseFlags(fs, args, nil); err != nil {
		return err
	}
	if *interval < 100*time.Millisecond {
		return errors.New("--interval must be at least 100ms")
	}
	tok := *token
	if tok == "" {
		key, err := node.JWTSecret(*secret, *dataDir)
		if err != nil {
			return fmt.Errorf("mint an ops token: %w (or pass --token)", err)
		}
		if tok, err = api.MintToken(key, "ops", "parley stats", true, 24*time.Hour); err != nil {
			return err
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	url := strings.TrimSuffix(*base, "/") + "/api/ops/stats"
	clear := *watch && isTerminal(stdout)
	for {
		raw, st, err := fetchStats(ctx, client, url, tok)
		if err != nil {
			if !*watch {
				return err
			}
			fmt.Fprintf(stderr, "%s: %v\n", time.Now().Format(time.TimeOnly), err)
		} else {
			if clear {
				fmt.Fprint(stdout, "\x1b[H\x1b[2J")
			}
			if *asJSON {
				fmt.Fprintln(stdout, string(raw))
			} else {
				printStats(stdout, st)
			}
		}
		if !*watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// fetchStats gets one stats answer.
func fetchStats(ctx context.Context, client *http.Client, url, token string) ([]byte, *api.OpsStats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(raw)))
	}
	var st api.OpsStats
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", url, err)
	}
	return raw, &st, nil
}

// printStats renders the stats as tables.
func printStats(w io.Writer, st *api.OpsStats) {
	fmt.Fprintf(w, "parley stats: node %s, up %s, at %s\n\n", st.Node, time.Duration(st.UptimeSeconds)*time.Second, st.At)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "STREAM\tMESSAGES\tBYTES\tFIRST SEQ\tLAST SEQ\tCONSUMERS\t")
	for _, s := range st.Streams {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", s.Name, s.Messages, s.Bytes, s.FirstSeq, s.LastSeq, s.Consumers)
	}
	fmt.Fprintln(tw, "\t\t\t\t\t\t")
	fmt.Fprintln(tw, "CONSUMER\tKIND\tPENDING\tACK PENDING\tREDELIVERED\tWAITING\tLAST ACTIVE\t")
	for _, c := range st.Consumers {
		kind, active := "ordered", "-"
		if c.Durable {
			kind = "durable"
		}
		if c.LastActive != nil {
			active = time.Since(*c.LastActive).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%d\t%d\t%d\t%d\t%s\t\n", c.Stream, c.Name, kind, c.Pending, c.AckPending, c.Redelivered, c.Waiting, active)
	}
	fmt.Fprintln(tw, "\t\t\t\t\t\t\t")
	fmt.Fprintln(tw, "PROJECTION\tSTREAM\tCHECKPOINT\tSTREAM LAST\tLAG\t")
	for _, p := range st.Projections {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t\n", p.Name, p.Stream, p.Checkpoint, p.StreamLastSeq, p.Lag)
	}
	tw.Flush()
	fmt.Fprintln(w)
	if h := st.Hub; h != nil {
		fmt.Fprintf(w, "hub:           %d connections, %d users, %d subscriptions, %d channels, %.2f deliveries/s, %d slow-consumer disconnects\n",
			h.Connections, h.Users, h.Subscriptions, h.Channels, h.DeliveriesPerSecond, h.SlowConsumerDisconnects)
	} else {
		fmt.Fprintln(w, "hub:           realtime off")
	}
	if p := st.Presence; p != nil {
		fmt.Fprintf(w, "presence:      %d online users\n", p.OnlineUsers)
	}
	x := st.HTTP
	fmt.Fprintf(w, "http:          %.2f req/s, 5xx rate %.2f%%, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms (last %ds); %d requests, %d 5xx, %d 4xx in all\n",
		x.RequestsPerSecond, x.ErrorRate*100, x.LatencyMillis.P50, x.LatencyMillis.P90, x.LatencyMillis.P99, x.WindowSeconds,
		x.Requests, x.ServerErrors, x.ClientErrors)
	n := st.Notifications
	fmt.Fprintf(w, "notifications: %d messages, %d created, %d skipped online, %d in an open window, %d failed, %d dead; %d dead letters stored; %.2f events/s\n",
		n.Messages, n.Created, n.SkippedOnline, n.InWindow, n.Failed, n.Dead, n.DeadLetters, n.EventsPerSecond)
	if wh := st.Webhooks; wh.Enabled {
		fmt.Fprintf(w, "webhooks:      %d attempts, %d sent, %d failed, %d dead, %d batched\n", wh.Attempts, wh.Sent, wh.Failed, wh.Dead, wh.Batched)
	} else {
		fmt.Fprintln(w, "webhooks:      off")
	}
}

// replayNotifications applies the NOTIFICATIONS stream to db up to to (0:
// the stream's last sequence), for replay and verify. A log that never held
// notifications has nothing to apply.
func replayNotifications(ctx context.Context, conn *streams.Conn, db *projections.DB, to uint64) error {
	notes, err := conn.Notifications(ctx, streams.NotificationsConfig{Existing: true})
	if errors.Is(err, streams.ErrNoNotifications) {
		return nil
	}
	if err != nil {
		return err
	}
	if to == 0 {
		if to, err = notes.Log().LastSeq(ctx); err != nil || to == 0 {
			return err
		}
	}
	return projections.RebuildNotifications(ctx, db, notes.Log().ReadRange, to)
}
