package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"parley/internal/profiling"
	"parley/projections"
)

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("replay", stderr)
	dataDir, natsURL := logFlags(fs, "data directory of the server whose log to replay")
	out := fs.String("out", "", "database file to build (required without --swap); an existing one is continued from its checkpoint")
	swap := fs.Bool("swap", false, "build a new live database for the data dir and swap it in (the server must be stopped; a running server rebuilds by itself when its projection version is newer)")
	from := fs.Uint64("from-seq", 1, "first stream sequence to apply (to continue an interrupted replay, or when retention dropped earlier events)")
	to := fs.Uint64("to-seq", 0, "last stream sequence to apply (default: the log's last)")
	if err := parseFlags(fs, args, nil); err != nil {
		return err
	}
	if *swap {
		if *out != "" || *from != 1 || *to != 0 {
			return errors.New("--swap builds the whole log into a new file of its own: drop --out, --from-seq and --to-seq")
		}
		*out = projections.NextPath(*dataDir, projections.Version)
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	conn, served, err := openToolLog(ctx, *dataDir, *natsURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	if *swap && served {
		return errors.New("a server is running on this data dir: stop it to swap by hand (a server rebuilds and swaps by itself when its projection version is newer than its database's)")
	}
	_, last, err := conn.Log().Bounds(ctx)
	if err != nil {
		return err
	}
	if *to == 0 || *to > last {
		*to = last
	}
	db, err := projections.OpenBulk(ctx, *out)
	if err != nil {
		return err
	}
	start := max(*from, db.Applied()+1)
	began := time.Now()
	update, finish := progressPrinter(stdout, "replay", *to-min(start, *to+1)+1)
	err = projections.Rebuild(ctx, db, conn.Log().ReadRange, *from, *to, update)
	finish()
	if err == nil {
		err = replayNotifications(ctx, conn, db, 0)
	}
	if *swap && err == nil {
		err = db.CloseBuilt(ctx, projections.Version)
	} else if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if *swap {
		if err := swapLive(ctx, *dataDir, *out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "swapped in %s as the live read models\n", *out)
	}
	n := *to - min(start, *to+1) + 1
	secs := time.Since(began).Seconds()
	fmt.Fprintf(stdout, "replayed %d events (seq %d..%d) into %s in %.2fs: %.0f events/s, peak RSS %d MiB\n",
		n, start, *to, *out, secs, float64(n)/max(secs, 1e-9), profiling.PeakRSSKiB()/1024)
	return nil
}

// swapLive makes the rebuilt file the data dir's live database, the way a
// server swaps after a background rebuild.
func swapLive(ctx context.Context, dataDir, path string) error {
	live, err := projections.Open(ctx, projections.LivePath(dataDir))
	if err != nil {
		return err
	}
	if err := live.Swap(ctx, dataDir, path); err != nil {
		live.Close()
		return err
	}
	return live.Close()
}
