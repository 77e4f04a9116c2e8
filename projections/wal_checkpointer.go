package projections

import (
	"context"
	"database/sql"
	"log/slog"
	"net/url"
	"sync/atomic"
	"time"
)

const (
	// checkpointEvery is the least time between two background checkpoints.
	checkpointEvery = 100 * time.Millisecond
	// checkpointMinEvents is how many committed events a checkpoint waits
	// for, unless checkpointQuiet passes first.
	checkpointMinEvents = 64
	// checkpointQuiet is about the longest a committed event waits for a
	// checkpoint to start (a little longer if it came during one).
	checkpointQuiet = time.Second
)

// walCheckpointer copies committed pages from the WAL into the database file
// on a connection of its own, after commits.
//
// Without it the writer does that copy itself: SQLite's automatic
// checkpoint runs inside the commit that takes the WAL past 1,000 pages and
// copies them all. In the fanout load at 300 sends/s that commit took 8-16
// ms instead of under one, every ~85 sends, and every send behind it
// waited: ~110 commits over 5 ms in 9,000 sends, the largest part of the
// send-to-receive tail at moderate load. A passive checkpoint here blocks
// neither the writer nor the readers (5-19 such commits in the same run).
//
// Once a checkpoint has copied the whole WAL, the next write restarts it,
// and that commit syncs the WAL's new header. So a checkpoint waits for
// checkpointMinEvents committed events (or checkpointQuiet), and runs at
// most every checkpointEvery: under a light load the WAL restarts at most
// once per 64 events or per second, instead of after every commit. Under a
// steady load commits keep arriving during each checkpoint, so it rarely
// copies all of the WAL; the writer's own automatic checkpoint, left on at
// 4,000 pages, then finds almost every page copied, and the write after it
// restarts the WAL.
type walCheckpointer struct {
	db      *sql.DB
	kick    chan struct{}
	pending atomic.Int64 // events committed since the last checkpoint began
	cancel  context.CancelFunc
	done    chan struct{}
}

// startCheckpointer opens the checkpointer's connection to the existing
// database at path and starts its loop.
func startCheckpointer(ctx context.Context, path string) (*walCheckpointer, error) {
	q := url.Values{}
	q.Add("mode", "rw") // never create a file the writer has not
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(NORMAL)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	c := &walCheckpointer{db: db, kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go c.loop(lctx)
	return c, nil
}

// nudge tells the checkpointer that a commit of n events added pages to the
// WAL. It never blocks.
func (c *walCheckpointer) nudge(n int) {
	c.pending.Add(int64(n))
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *walCheckpointer) loop(ctx context.Context) {
	defer close(c.done)
	timer := time.NewTimer(checkpointQuiet)
	defer timer.Stop()
	var warned time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		timer.Reset(checkpointQuiet)
	gather:
		for c.pending.Load() < checkpointMinEvents {
			select {
			case <-ctx.Done():
				return
			case <-c.kick:
			case <-timer.C:
				break gather
			}
		}
		c.pending.Swap(0) // what came in meanwhile was committed before this checkpoint
		if _, err := c.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil && ctx.Err() == nil {
			// The writer's own automatic checkpoint still runs.
			if time.Since(warned) > time.Minute {
				warned = time.Now()
				slog.Warn("background WAL checkpoint failed", "component", "projections", "err", err)
			}
		}
		timer.Reset(checkpointEvery)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
	}
}

// close stops the loop and closes the connection.
func (c *walCheckpointer) close() error {
	c.cancel()
	<-c.done
	return c.db.Close()
}
