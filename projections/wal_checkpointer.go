package projections

import (
	"context"
	"database/sql"
	"log/slog"
	"net/url"
	"time"
)

// checkpointEvery is the least time between two background checkpoints.
const checkpointEvery = 100 * time.Millisecond

// walCheckpointer copies committed pages from the WAL into the database file
// on a connection of its own, at most every checkpointEvery after a commit.
//
// Without it the writer does that copy itself: SQLite's automatic
// checkpoint runs inside the commit that takes the WAL past 1,000 pages and
// copies them all. In the fanout load at 300 sends/s that commit took 8-16
// ms instead of under one, every ~85 sends, and every send behind it
// waited: ~110 commits over 5 ms in 9,000 sends, the largest part of the
// send-to-receive tail at moderate load. A passive checkpoint here blocks
// neither the writer nor the readers (5-19 such commits in the same run).
// The writer's own automatic checkpoint stays on, at 4,000 pages, as the
// backstop that restarts the WAL (a write can restart it only after a
// checkpoint that copied all of it); by then almost every page is copied.
type walCheckpointer struct {
	db     *sql.DB
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// startCheckpointer opens the checkpointer's connection to the database at
// path and starts its loop.
func startCheckpointer(path string) (*walCheckpointer, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(NORMAL)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	ctx, cancel := context.WithCancel(context.Background())
	c := &walCheckpointer{db: db, kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go c.loop(ctx)
	return c, nil
}

// nudge tells the checkpointer that a commit added pages to the WAL.
func (c *walCheckpointer) nudge() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *walCheckpointer) loop(ctx context.Context) {
	defer close(c.done)
	pause := time.NewTimer(checkpointEvery)
	defer pause.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		if _, err := c.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil && ctx.Err() == nil {
			slog.Debug("background checkpoint", "err", err) // the writer's own checkpoint still runs
		}
		pause.Reset(checkpointEvery)
		select {
		case <-ctx.Done():
			return
		case <-pause.C:
		}
	}
}

// close stops the loop and closes the connection.
func (c *walCheckpointer) close() error {
	c.cancel()
	<-c.done
	return c.db.Close()
}
