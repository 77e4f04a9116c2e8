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
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"parley/engine"
	"parley/migrations"
)

// DB is the read-model database: one writer connection for the projector and
// a pool of readers. It implements engine.Store. Swap replaces the file under
// it (a rebuilt database) without readers noticing.
type DB struct {
	cur atomic.Pointer[pools]

	applied *watermark // the projector's checkpoint

	// The search index (search_index.go): searched is the sequence through
	// which every applied message is indexed, moved by the live projector
	// while searchKept; searchNudge asks it to index now.
	searched    *watermark
	searchKept  atomic.Bool
	searchNudge chan struct{}

	sends sendIndex // the send check's memory (send_index.go)

	rmu     sync.Mutex
	retired []*pools // replaced by Swap, closing after a grace period

	// Outcomes of recently applied events: the rejected sequences above
	// floor (bounded; cleared and floor raised when it fills).
	omu     sync.Mutex
	floor   uint64
	skipped map[uint64]struct{}
}

// pools are the connections to one database file.
type pools struct {
	w, r *sql.DB
	path string

	mu    sync.RWMutex
	stmts map[string]*sql.Stmt // reader statements, prepared once per query text

	preparing map[string]bool // reader statements being prepared in the background

	nstmts *stmtCache // the notifications projector's writer statements

	ckpt *walCheckpointer // nil for a bulk build
}

var _ engine.Store = (*DB)(nil)

func dsn(path string, write, bulk bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	if bulk {
		q.Add("_pragma", "synchronous(OFF)")
	} else {
		q.Add("_pragma", "synchronous(NORMAL)")
	}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "temp_store(MEMORY)") // statement journals stay off disk
	if write {
		q.Set("_txlock", "immediate")
		q.Add("_pragma", "cache_size(-65536)")
		if !bulk {
			// The background checkpointer copies the WAL; the writer's own
			// checkpoint is the backstop under a steady load (see
			// walCheckpointer).
			q.Add("_pragma", "wal_autocheckpoint(4000)")
		}
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database at path and applies the
// migrations.
func Open(ctx context.Context, path string) (*DB, error) { return open(ctx, path, false) }

// OpenBulk opens a database for a rebuild: no fsync until it is closed, so a
// crash mid-build leaves a file to throw away, not a live one.
func OpenBulk(ctx context.Context, path string) (*DB, error) { return open(ctx, path, true) }

func open(ctx context.Context, path string, bulk bool) (*DB, error) {
	p, err := openPools(ctx, path, bulk)
	if err != nil {
		return nil, err
	}
	db := &DB{}
	db.cur.Store(p)
	cp, err := db.checkpoint(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	db.applied = newWatermark(cp)
	db.searched, db.searchNudge = newWatermark(0), make(chan struct{}, 1)
	db.floor, db.skipped = cp, map[uint64]struct{}{}
	return db, nil
}

func openPools(ctx context.Context, path string, bulk bool) (*pools, error) {
	w, err := sql.Open("sqlite", dsn(path, true, bulk))
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
	r, err := sql.Open("sqlite", dsn(path, false, false))
	if err != nil {
		w.Close()
		return nil, err
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	p := &pools{w: w, r: r, path: path, stmts: map[string]*sql.Stmt{}, nstmts: &stmtCache{db: w, stmts: map[string]*sql.Stmt{}}}
	if !bulk {
		if p.ckpt, err = startCheckpointer(ctx, path); err != nil {
			r.Close()
			w.Close()
			return nil, err
		}
	}
	return p, nil
}

// committed tells the background checkpointer that the writer committed n
// events.
func (p *pools) committed(n int) {
	if p.ckpt != nil {
		p.ckpt.nudge(n)
	}
}

// stmt returns the reader pool's prepared statement for query; database/sql
// prepares it on each connection once and keeps it, so a query is parsed
// once per connection instead of once per call. Preparing takes a
// connection of the pool, so it must not be called while holding one (in a
// read transaction): see readTx.stmt.
func (p *pools) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s := p.prepared(query); s != nil {
		return s, nil
	}
	// No lock while preparing: the preparation waits for a free connection,
	// and the connections' holders may need the lock meanwhile.
	s, err := p.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old := p.stmts[query]; old != nil {
		s.Close()
		return old, nil
	}
	p.stmts[query] = s
	return s, nil
}

// prepared returns the pool's statement for query if it is prepared.
func (p *pools) prepared(query string) *sql.Stmt {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.stmts[query]
}

// prepareLater prepares query on the pool in the background, once.
func (p *pools) prepareLater(query string) {
	p.mu.Lock()
	if p.preparing == nil {
		p.preparing = map[string]bool{}
	}
	if p.preparing[query] || p.stmts[query] != nil {
		p.mu.Unlock()
		return
	}
	p.preparing[query] = true
	p.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := p.stmt(ctx, query)
		p.mu.Lock()
		delete(p.preparing, query)
		p.mu.Unlock()
		_ = err // the next use tries again
	}()
}

// lookupRow runs a prepared one-row read that is an index lookup (a
// primary or unique key, over in well under a millisecond) without watching
// ctx: a cancellable context makes database/sql and the driver start a
// goroutine each per statement, which costs the hot lookups (a send's check,
// a delta's snapshot) more than the lookup would ever run on. So neither the
// lookup nor its wait for a free reader (the pool's readers are each held
// for about as long) ends when the client goes.
func (db *DB) lookupRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.queryRow(context.WithoutCancel(ctx), query, args...)
}

// queryRow runs a prepared one-row read.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := db.cur.Load().stmt(ctx, query)
	if err != nil {
		// QueryRowContext on the pool reports the same error through Scan.
		return db.rd().QueryRowContext(ctx, query, args...)
	}
	return s.QueryRowContext(ctx, args...)
}

// query runs a prepared read.
func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := db.cur.Load().stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// readTx is a read transaction on one pool, which a swap cannot change
// under it.
type readTx struct {
	*sql.Tx
	p *pools
}

// beginRead starts a read transaction on the current pools.
func (db *DB) beginRead(ctx context.Context) (*readTx, error) {
	p := db.cur.Load()
	tx, err := p.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	return &readTx{Tx: tx, p: p}, nil
}

// stmt returns query's statement for this transaction. A statement the pool
// has not prepared yet is prepared on the transaction's own connection (and
// on the pool in the background): asking the pool to prepare it here could
// wait forever for a connection that transactions like this one hold.
func (t *readTx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s := t.p.prepared(query); s != nil {
		return t.StmtContext(ctx, s), nil
	}
	t.p.prepareLater(query)
	return t.PrepareContext(ctx, query)
}

// row runs a prepared one-row read inside the transaction.
func (t *readTx) row(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := t.stmt(ctx, query)
	if err != nil {
		return t.QueryRowContext(ctx, query, args...)
	}
	return s.QueryRowContext(ctx, args...)
}

func (p *pools) close() error {
	p.mu.Lock()
	for _, s := range p.stmts {
		s.Close()
	}
	p.stmts = map[string]*sql.Stmt{}
	p.mu.Unlock()
	p.nstmts.close()
	err := p.r.Close()
	if p.ckpt != nil {
		if cerr := p.ckpt.close(); err == nil {
			err = cerr
		}
	}
	if werr := p.w.Close(); err == nil {
		err = werr
	}
	return err
}

// rd is the current reader pool.
func (db *DB) rd() *sql.DB { return db.cur.Load().r }

// wr is the current writer connection.
func (db *DB) wr() *sql.DB { return db.cur.Load().w }

// Path is the database file.
func (db *DB) Path() string { return db.cur.Load().path }

// Close closes both pools (and any that a swap replaced).
func (db *DB) Close() error {
	db.rmu.Lock()
	for _, p := range db.retired {
		_ = p.close()
	}
	db.retired = nil
	db.rmu.Unlock()
	return db.cur.Load().close()
}

func (db *DB) checkpoint(ctx context.Context) (uint64, error) {
	var seq uint64
	err := db.wr().QueryRowContext(ctx, `SELECT seq FROM checkpoints WHERE name = ?`, checkpointName).Scan(&seq)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return seq, err
}

// Applied is the last sequence the projector committed.
func (db *DB) Applied() uint64 { return db.applied.Load() }

// WaitApplied blocks until Applied() >= seq or ctx ends.
func (db *DB) WaitApplied(ctx context.Context, seq uint64) error { return db.applied.Wait(ctx, seq) }

// setApplied publishes a new checkpoint to waiters.
func (db *DB) setApplied(seq uint64) { db.applied.Set(seq) }

// maxRememberedSkips bounds the rejected sequences kept in memory.
const maxRememberedSkips = 4096

// noteOutcomes records a committed batch's rejected sequences.
func (db *DB) noteOutcomes(skipped []uint64, last uint64) {
	db.omu.Lock()
	defer db.omu.Unlock()
	if len(db.skipped)+len(skipped) > maxRememberedSkips {
		clear(db.skipped)
		db.floor = last
		return
	}
	for _, s := range skipped {
		db.skipped[s] = struct{}{}
	}
}

// Outcome reports whether the projector accepted the event at seq, as far as
// this process remembers.
func (db *DB) Outcome(seq uint64) (accepted, known bool) {
	db.omu.Lock()
	defer db.omu.Unlock()
	if seq <= db.floor || seq > db.applied.Load() {
		return false, false
	}
	_, rejected := db.skipped[seq]
	return !rejected, true
}
