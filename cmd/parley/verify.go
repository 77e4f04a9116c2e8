package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"parley/projections"
)

// errDiffer is verify's answer when the projections are not equal.
var errDiffer = errors.New("the rebuilt projections differ from the live ones")

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", stderr)
	dataDir, natsURL := logFlags(fs, "data directory of the live database and its log")
	against := fs.String("against", "", "a database built by `parley replay` (default: rebuild into a temp file)")
	if err := parseFlags(fs, args, nil); err != nil {
		return err
	}
	livePath := projections.LivePath(*dataDir)
	if _, err := os.Stat(livePath); err != nil {
		return fmt.Errorf("live database: %w", err)
	}
	conn, _, err := openToolLog(ctx, *dataDir, *natsURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	live, err := projections.Open(ctx, livePath)
	if err != nil {
		return err
	}
	defer live.Close()
	snap, err := live.ReadSnapshot(ctx)
	if err != nil {
		return err
	}
	defer snap.Tx.Rollback()

	path := *against
	if path == "" {
		tmp, err := os.MkdirTemp("", "parley-verify-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		path = filepath.Join(tmp, "rebuilt.db")
	}
	rebuilt, err := projections.OpenBulk(ctx, path)
	if err != nil {
		return err
	}
	defer rebuilt.Close()
	if rebuilt.Applied() > snap.Checkpoint {
		return fmt.Errorf("%s is at seq %d, past the live checkpoint %d; verify against a fresh rebuild", path, rebuilt.Applied(), snap.Checkpoint)
	}
	update, finish := progressPrinter(stderr, "rebuild", snap.Checkpoint-rebuilt.Applied())
	err = projections.Rebuild(ctx, rebuilt, conn.Log().ReadRange, 1, snap.Checkpoint, update)
	finish()
	if err != nil {
		return err
	}
	ncp, err := snap.NotificationsCheckpoint(ctx)
	if err != nil {
		return err
	}
	if err := replayNotifications(ctx, conn, rebuilt, ncp); err != nil {
		return err
	}
	reports, err := projections.Compare(ctx, snap, rebuilt)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "live checkpoint %d, rebuilt from the log to the same sequence\n", snap.Checkpoint)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "table\tlive rows\trebuilt rows\tlive checksum\trebuilt checksum\t")
	equal := true
	for _, r := range reports {
		status := "equal"
		if !r.Equal() {
			status, equal = "DIFFERENT", false
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", r.Table, r.LiveRows, r.RebuiltRows, r.LiveSum, r.RebuiltSum, status)
	}
	tw.Flush()
	for _, r := range reports {
		for _, d := range r.Diffs {
			fmt.Fprintf(stdout, "  %s: %s\n", r.Table, d)
		}
	}
	if !equal {
		return errDiffer
	}
	fmt.Fprintln(stdout, "verify: equal")
	return nil
}
