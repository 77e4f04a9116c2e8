// Package projections builds Parley's SQLite read models from the event log:
// the pure apply functions, the projector that runs them in batches with its
// checkpoint in the same transaction, and the read queries. Together with
// migrations it is the only package that touches SQLite.
package projections

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"parley/engine"
	"parley/migrations"
)

// DB is the read-model database: one writer connection for the projector and
// a pool of readers. It implements engine.Store.
type DB struct {
	w, r *sql.DB
	path string

	applied atomic.Uint64
	mu      sync.Mutex
	advance chan struct{} // closed and replaced whenever applied moves
}

var _ engine.Store = (*DB)(nil)

func dsn(path string, write bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	if write {
		q.Set("_txlock", "immediate")
		q.Add("_pragma", "cache_size(-65536)")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database at path and applies the
// migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	w, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := migrations.Apply(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		w.Close()
		return nil, err
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	db := &DB{w: w, r: r, path: path, advance: make(chan struct{})}
	cp, err := db.checkpoint(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	db.applied.Store(cp)
	return db, nil
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// Close closes both pools.
func (db *DB) Close() error {
	err := db.r.Close()
	if werr := db.w.Close(); err == nil {
		err = werr
	}
	return err
}

func (db *DB) checkpoint(ctx context.Context) (uint64, error) {
	var seq uint64
	err := db.w.QueryRowContext(ctx, `SELECT seq FROM checkpoints WHERE name = ?`, checkpointName).Scan(&seq)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return seq, err
}

// Applied is the last sequence the projector committed.
func (db *DB) Applied() uint64 { return db.applied.Load() }

// WaitApplied blocks until Applied() >= seq or ctx ends.
func (db *DB) WaitApplied(ctx context.Context, seq uint64) error {
	for {
		db.mu.Lock()
		ch := db.advance
		db.mu.Unlock()
		if db.applied.Load() >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// setApplied publishes a new checkpoint to waiters.
func (db *DB) setApplied(seq uint64) {
	db.applied.Store(seq)
	db.mu.Lock()
	close(db.advance)
	db.advance = make(chan struct{})
	db.mu.Unlock()
}
