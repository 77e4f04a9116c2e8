package testkit

import (
	"context"
	"database/sql"
	"net/url"
	"runtime"
	"strings"
	"time"

	"parley/projections"
)

// ProjectorHold keeps a node's projector from committing: it holds the
// write lock of the node's read model (its SQLite file, in WAL mode), so the
// projector's next batch waits in SQLite's busy handler while lookups still
// read. A test holding it keeps the node behind its log for as long as it
// likes, on however fast a machine, and lets it move a batch at a time
// (Step) or all the way (Release).
//
// The projector gives up on a lock held longer than its busy timeout (10s):
// hold it for less at a time.
type ProjectorHold struct {
	env  *Env
	db   *sql.DB
	conn *sql.Conn
	held bool
}

// HoldProjector takes the write lock of the running node's read model and
// keeps it until Release or the end of the test. Take it while the node is
// level with its log, then append what it should stay behind on.
func (e *Env) HoldProjector() *ProjectorHold {
	e.TB.Helper()
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(0)") // the hold retries itself, without sleeping
	db, err := sql.Open("sqlite", "file:"+projections.LivePath(e.Config.DataDir)+"?"+q.Encode())
	if err != nil {
		e.TB.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		db.Close()
		e.TB.Fatal(err)
	}
	h := &ProjectorHold{env: e, db: db, conn: conn}
	e.TB.Cleanup(func() { // before the node closes: Start's cleanup was registered first
		h.Release()
		conn.Close()
		db.Close()
	})
	h.Acquire()
	return h
}

// tryBegin takes the write lock if it is free.
func (h *ProjectorHold) tryBegin() bool {
	h.env.TB.Helper()
	_, err := h.conn.ExecContext(context.Background(), "BEGIN IMMEDIATE")
	if err != nil && !strings.Contains(err.Error(), "SQLITE_BUSY") {
		h.env.TB.Fatalf("hold the read model's write lock: %v", err)
	}
	return err == nil
}

// Acquire takes the write lock back. It tries again at once while another
// connection (the projector) holds it, so it gets the lock as soon as that
// one commits.
func (h *ProjectorHold) Acquire() {
	h.env.TB.Helper()
	deadline := time.Now().Add(time.Minute)
	for !h.held {
		if h.held = h.tryBegin(); !h.held {
			if time.Now().After(deadline) {
				h.env.TB.Fatal("the read model's write lock stayed taken for a minute")
			}
			runtime.Gosched()
		}
	}
}

// Release lets the projector commit again.
func (h *ProjectorHold) Release() {
	h.env.TB.Helper()
	if !h.held {
		return
	}
	if _, err := h.conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		h.env.TB.Fatalf("release the read model's write lock: %v", err)
	}
	h.held = false
}

// Step lets the projector commit one batch (rarely a few) and takes the
// lock back right after it. The node must be behind its log.
func (h *ProjectorHold) Step() {
	h.env.TB.Helper()
	before := h.checkpoint()
	h.Release()
	deadline := time.Now().Add(time.Minute)
	for {
		if h.held = h.tryBegin(); h.held {
			if h.checkpoint() > before {
				return
			}
			// The projector has not had its turn yet (it retries every
			// few milliseconds while it waits): give it the lock again.
			h.Release()
			time.Sleep(time.Millisecond)
		} else {
			runtime.Gosched() // the projector holds it: take it when it commits
		}
		if time.Now().After(deadline) {
			h.env.TB.Fatal("the projector committed nothing for a minute")
		}
	}
}

// checkpoint is the sequence the read model has committed (the
// projector's checkpoint, as this connection sees it).
func (h *ProjectorHold) checkpoint() uint64 {
	h.env.TB.Helper()
	var seq uint64
	err := h.conn.QueryRowContext(context.Background(), `SELECT seq FROM checkpoints WHERE name = 'messages'`).Scan(&seq)
	if err != nil && err != sql.ErrNoRows {
		h.env.TB.Fatalf("read the projector's checkpoint: %v", err)
	}
	return seq
}
