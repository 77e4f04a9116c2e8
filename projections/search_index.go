package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The search index follows the messages in batches, on the projector's
// goroutine between its batches, rather than inside each of its
// transactions: FTS5 writes a segment per transaction, so a send that
// indexed its own body paid for a segment (and the merges after it) alone.
// search_progress holds the mark: every message at or below it is indexed.
const (
	// searchBatchRows is how many new messages make the index due at once.
	searchBatchRows = 256
	// searchLinger is how long fewer new messages wait for company.
	searchLinger = 100 * time.Millisecond
	// searchChunk bounds the messages indexed in one transaction, so the
	// projector returns to the log between chunks of a long backlog.
	searchChunk = 2000
	// searchWait bounds how long a search waits for the index to reach the
	// messages applied before it; after it, it searches what is indexed.
	searchWait = 2 * time.Second
)

// searchFollow is the live projector's account of the messages not yet in
// the search index.
type searchFollow struct {
	pending int       // accepted messages after the mark (an estimate: the mark decides)
	since   time.Time // when the oldest of them was applied
}

// startSearch reads how many messages wait for the index (after a restart,
// or a swap to a rebuilt file) and tells searches that this projector keeps
// the index.
func (p *Projector) startSearch(ctx context.Context) error {
	var n int
	err := p.db.wr().QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE seq > (SELECT seq FROM search_progress WHERE id = 1)`).Scan(&n)
	if err != nil {
		return fmt.Errorf("search index backlog: %w", err)
	}
	p.search = &searchFollow{pending: n, since: time.Now()}
	if n == 0 {
		p.db.searched.Set(p.db.Applied())
	}
	p.db.searchKept.Store(true)
	return nil
}

// searchApplied accounts for a committed batch through last with sent new
// messages.
func (p *Projector) searchApplied(last uint64, sent int) {
	s := p.search
	if s == nil { // a rebuild: it indexes at its end
		return
	}
	if sent > 0 {
		if s.pending == 0 {
			s.since = time.Now()
		}
		s.pending += sent
	}
	if s.pending == 0 {
		p.db.searched.Set(last)
	}
}

// searchDue says whether messages wait for the index, and how long until
// they are due (0: now).
func (p *Projector) searchDue() (time.Duration, bool) {
	s := p.search
	if s == nil || s.pending == 0 {
		return 0, false
	}
	if s.pending >= searchBatchRows {
		return 0, true
	}
	return max(0, searchLinger-time.Since(s.since)), true
}

// indexSearch indexes one chunk of the messages waiting for the index.
func (p *Projector) indexSearch(ctx context.Context) error {
	s := p.search
	if s == nil {
		return nil
	}
	upTo := p.db.Applied()
	n, mark, err := indexSearchChunk(ctx, p.db.wr(), upTo, searchChunk)
	if err != nil {
		return err
	}
	s.pending = max(0, s.pending-n)
	if mark >= upTo {
		s.pending = 0
	} else if s.pending == 0 {
		s.pending = 1 // the mark says more wait: the next chunk is due
	}
	s.since = time.Now()
	p.db.searched.Set(mark)
	return nil
}

// indexSearchChunk indexes, in one transaction, the messages after the mark
// up to and including upTo, at most limit of them, and moves the mark past
// them. It returns how many it indexed and the new mark.
func indexSearchChunk(ctx context.Context, w *sql.DB, upTo uint64, limit int) (int, uint64, error) {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("index for search: %w", err)
	}
	defer tx.Rollback()
	var mark uint64
	if err := tx.QueryRowContext(ctx, `SELECT seq FROM search_progress WHERE id = 1`).Scan(&mark); err != nil {
		return 0, 0, fmt.Errorf("search mark: %w", err)
	}
	if mark >= upTo {
		return 0, mark, nil
	}
	end := upTo
	var last uint64
	err = tx.QueryRowContext(ctx, `SELECT seq FROM messages WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 1 OFFSET ?`, mark, upTo, limit-1).Scan(&last)
	switch {
	case err == nil:
		end = last
	case !errors.Is(err, sql.ErrNoRows):
		return 0, 0, fmt.Errorf("index for search: %w", err)
	}
	// Ascending rowids (the index's newest first) are what FTS5 appends fastest.
	res, err := tx.ExecContext(ctx, `INSERT INTO messages_fts(rowid, body, conversation_id)
		SELECT -seq, body, conversation_id FROM messages WHERE seq > ? AND seq <= ? ORDER BY seq DESC`, mark, end)
	if err != nil {
		return 0, 0, fmt.Errorf("index for search: %w", err)
	}
	n, _ := res.RowsAffected()
	if _, err := tx.ExecContext(ctx, `UPDATE search_progress SET seq = ? WHERE id = 1`, end); err != nil {
		return 0, 0, fmt.Errorf("search mark: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, fmt.Errorf("index for search: %w", err)
	}
	return int(n), end, nil
}

// catchUpSearch indexes every message after the mark: the end of a rebuild.
func catchUpSearch(ctx context.Context, db *DB) error {
	upTo := db.Applied()
	for {
		_, mark, err := indexSearchChunk(ctx, db.wr(), upTo, 10*searchChunk)
		if err != nil || mark >= upTo {
			return err
		}
	}
}

// awaitSearch waits (at most searchWait) until the search index holds every
// message applied before the call, asking the projector to index them now:
// a search finds what its caller has just sent. Without a live projector
// keeping the index (a rebuilt file, a benchmark's), nothing waits.
func (db *DB) awaitSearch(ctx context.Context) {
	target := db.Applied()
	if !db.searchKept.Load() || db.searched.Load() >= target {
		return
	}
	select {
	case db.searchNudge <- struct{}{}:
	default: // one is pending already
	}
	wctx, cancel := context.WithTimeout(ctx, searchWait)
	defer cancel()
	_ = db.searched.Wait(wctx, target)
}
