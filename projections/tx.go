package projections

import (
	"context"
	"database/sql"
	"sync"
)

// Tx is one projector transaction. Its statements are prepared once on the
// writer connection and bound to the transaction on first use.
type Tx struct {
	ctx   context.Context
	tx    *sql.Tx
	cache *stmtCache
	bound map[string]*sql.Stmt
	st    *batchState
	// What the send index learns once the transaction commits: the hashes
	// of the new messages' send keys, and the removed members.
	sentKeys []uint64
	removed  []string
}

// stmtCache holds the writer connection's prepared statements by SQL text.
// The writer pool has one connection, so a statement can only be prepared on
// the pool between transactions: a query first seen inside a transaction is
// prepared on that transaction and queued for promote.
type stmtCache struct {
	mu      sync.Mutex
	db      *sql.DB
	stmts   map[string]*sql.Stmt
	pending []string
}

func (c *stmtCache) get(query string) (*sql.Stmt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.stmts[query]
	if !ok {
		c.pending = append(c.pending, query)
	}
	return s, ok
}

// promote prepares the queued statements on the pool; call it outside any
// transaction.
func (c *stmtCache) promote(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, q := range c.pending {
		if _, ok := c.stmts[q]; ok {
			continue
		}
		s, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		c.stmts[q] = s
	}
	c.pending = c.pending[:0]
	return nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.stmts {
		s.Close()
	}
	c.stmts = map[string]*sql.Stmt{}
}

func (t *Tx) stmt(query string) (*sql.Stmt, error) {
	if s, ok := t.bound[query]; ok {
		return s, nil
	}
	s, ok := t.cache.get(query)
	if ok {
		s = t.tx.StmtContext(t.ctx, s)
	} else {
		var err error
		if s, err = t.tx.PrepareContext(t.ctx, query); err != nil {
			return nil, err
		}
	}
	t.bound[query] = s
	return s, nil
}

// exec runs a statement and returns the number of rows it changed.
func (t *Tx) exec(query string, args ...any) (int64, error) {
	s, err := t.stmt(query)
	if err != nil {
		return 0, err
	}
	res, err := s.ExecContext(t.ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// row runs a query expected to return at most one row.
func (t *Tx) row(query string, args ...any) (*sql.Row, error) {
	s, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return s.QueryRowContext(t.ctx, args...), nil
}

// scan runs a one-row query into dest; found is false when no row matched.
func (t *Tx) scan(query string, args []any, dest ...any) (found bool, err error) {
	r, err := t.row(query, args...)
	if err != nil {
		return false, err
	}
	err = r.Scan(dest...)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return err == nil, err
}
