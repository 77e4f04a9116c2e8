package projections

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"parley/engine"
)

// DefaultCommitGap is the live projector's least time between the starts of
// two batches while events keep arriving (parley serve --commit-gap). Under
// load a commit of a few events costs nearly what one of a dozen does (its
// pages, written to the WAL); a sender waits for its event's fsync round
// anyway (a few ms), so a batch that gathers for the rest of 1 ms costs it
// little. After a quiet spell of 1 ms the first event is applied at once.
const DefaultCommitGap = time.Millisecond

// checkpointName is the projector's row in checkpoints.
const checkpointName = "messages"

// Projector applies the log to the read models: one transaction per batch,
// the checkpoint written in the same transaction, accepted events handed to
// OnCommit only after the commit.
type Projector struct {
	db       *DB
	cache    *stmtCache
	tail     TailFunc
	onCommit func([]engine.Event)
	onBatch  func(from, last uint64, events []engine.Event, skipped []uint64)
	batchMax int
	gap      time.Duration
	logger   *slog.Logger
	// st is what the projector remembers of counters and markers between
	// batches; nil after a failed batch.
	st *batchState
	// search is the live projector's account of the search index's
	// backlog (nil in a rebuild, which indexes at its end).
	search *searchFollow
	runCtx context.Context // Run's
}

// ProjectorConfig configures a Projector.
type ProjectorConfig struct {
	// OnCommit receives the accepted events of each committed batch, in order.
	// It runs on the projector's goroutine and must not block.
	OnCommit func([]engine.Event)
	// OnBatch receives every committed batch, before waiting commands wake:
	// the events with from < seq <= last and the rejected sequences among
	// them. It runs on the projector's goroutine and must not block.
	OnBatch func(from, last uint64, events []engine.Event, skipped []uint64)
	// BatchMax bounds the events per transaction (default 2000).
	BatchMax int
	// CommitGap is the least time between the starts of two batches while
	// events keep arriving (default DefaultCommitGap; negative: none).
	CommitGap time.Duration
	Logger    *slog.Logger
}

// NewProjector returns a projector that writes into db and reads with tail.
func NewProjector(db *DB, tail TailFunc, cfg ProjectorConfig) *Projector {
	if cfg.BatchMax <= 0 {
		cfg.BatchMax = 2000
	}
	if cfg.CommitGap == 0 {
		cfg.CommitGap = DefaultCommitGap
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("component", "projector")
	}
	return &Projector{
		db: db, cache: &stmtCache{db: db.wr(), stmts: map[string]*sql.Stmt{}}, tail: tail,
		onCommit: cfg.OnCommit, onBatch: cfg.OnBatch, batchMax: cfg.BatchMax, gap: cfg.CommitGap, logger: cfg.Logger,
	}
}

// Run follows the log from the checkpoint until ctx ends. The batch in hand
// when ctx ends is committed before Run returns.
func (p *Projector) Run(ctx context.Context) error {
	defer p.cache.close()
	p.runCtx = ctx
	p.db.sends.ensureBuilt(ctx, p.db, p.logger)
	if err := p.startSearch(ctx); err != nil {
		return err
	}
	defer p.db.searchKept.Store(false)
	side := &sideWork{due: p.searchDue, run: p.indexSearch, nudge: p.db.searchNudge}
	return tailBatches(ctx, p.tail, p.db.Applied()+1, tailLoop{max: p.batchMax, side: side, gap: p.gap}, p.ApplyBatch)
}

// ApplyBatch applies events in one transaction, skipping those at or below
// the checkpoint, and commits the new checkpoint with them.
func (p *Projector) ApplyBatch(ctx context.Context, events []engine.Event) (err error) {
	if p.st == nil || p.st.oversized() {
		p.st = newBatchState()
	}
	defer func() {
		if err != nil {
			p.st = nil // the rollback undid what it remembers
		}
	}()
	cp := p.db.Applied()
	pl := p.db.cur.Load()
	tx, err := pl.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	t := &Tx{ctx: ctx, tx: tx, cache: p.cache, bound: map[string]*sql.Stmt{}, st: p.st}
	accepted := make([]engine.Event, 0, len(events))
	var skipped []uint64
	last := cp
	for _, ev := range events {
		if ev.Seq <= last {
			continue
		}
		reason, err := Apply(t, ev)
		if err != nil {
			return fmt.Errorf("apply seq %d (%s): %w", ev.Seq, ev.Type, err)
		}
		if reason != "" {
			if _, err := t.exec(`INSERT INTO skipped_events (seq, conversation_id, type, reason) VALUES (?, ?, ?, ?)`,
				ev.Seq, ev.ConversationID, string(ev.Type), reason); err != nil {
				return err
			}
			skipped = append(skipped, ev.Seq)
		} else {
			accepted = append(accepted, ev)
		}
		last = ev.Seq
	}
	if last == cp {
		p.st.settle()
		return nil
	}
	if err := t.flush(); err != nil {
		return fmt.Errorf("flush through seq %d: %w", last, err)
	}
	if _, err := t.exec(`INSERT INTO checkpoints (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq`,
		checkpointName, last); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit through seq %d: %w", last, err)
	}
	pl.committed(len(events))
	p.st.settle()
	if p.onBatch != nil {
		p.onBatch(cp, last, events, skipped)
	}
	p.db.noteOutcomes(skipped, last)
	p.db.sends.committed(t.sentKeys, t.removed)
	if p.runCtx != nil { // the live projector: a full filter grows
		p.db.sends.ensureBuilt(p.runCtx, p.db, p.logger)
	}
	p.db.setApplied(last)
	p.searchApplied(last, len(t.sentKeys)) // the new messages
	if err := p.cache.promote(ctx); err != nil {
		return err
	}
	if p.onCommit != nil && len(accepted) > 0 {
		p.onCommit(accepted)
	}
	return nil
}
