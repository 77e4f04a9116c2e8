package projections

import (
	"context"
	"fmt"
)

// deferredIndexes are the read models' secondary indexes that no apply
// function reads (the API's queries do): a large rebuild drops them and
// builds each once at its end, which costs less than keeping them while
// every row arrives. Each
// statement is the migrations' own definition (TestRebuildKeepsTheSchema).
var deferredIndexes = []struct{ name, create string }{
	{"messages_by_conversation", `CREATE INDEX messages_by_conversation ON messages (conversation_id, seq)`},
	{"message_reads_by_conversation", `CREATE INDEX message_reads_by_conversation ON message_reads (conversation_id, to_seq)`},
	{"participants_by_user", `CREATE INDEX participants_by_user ON participants (user_id, read_ord, own_after)`},
}

// deferIndexMin is the fewest events a rebuild must apply before it defers
// the indexes: below it, building them afresh costs more than it saves. A
// variable so tests can defer them on small logs.
var deferIndexMin uint64 = 50000

// searchIndex is the full-text index and the trigger that keeps it as
// bodies change, as the migrations define them (new messages reach it in
// batches: search_index.go): a large rebuild drops them and builds the index
// once at its end from the messages (FTS5's rebuild, through the view
// messages_fts_content, which stays), in one transaction with its trigger
// and the search mark, so an interruption leaves all or none.
var searchIndex = struct {
	table    string
	create   string
	triggers []struct{ name, create string }
}{
	table:  "messages_fts",
	create: `CREATE VIRTUAL TABLE messages_fts USING fts5(body, conversation_id, content='messages_fts_content', content_rowid='rid', tokenize='unicode61 remove_diacritics 2', prefix='3')`,
	triggers: []struct{ name, create string }{
		{"messages_fts_update", `CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages WHEN old.seq <= (SELECT seq FROM search_progress WHERE id = 1) BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body, conversation_id) VALUES ('delete', -old.seq, old.body, old.conversation_id);
    INSERT INTO messages_fts(rowid, body, conversation_id) VALUES (-new.seq, new.body, new.conversation_id);
END`},
	},
}

// dropDeferredIndexes drops the deferred indexes of a database being
// built, and its search index with the triggers that keep it.
func dropDeferredIndexes(ctx context.Context, db *DB) error {
	for _, ix := range deferredIndexes {
		if _, err := db.wr().ExecContext(ctx, "DROP INDEX IF EXISTS "+ix.name); err != nil {
			return fmt.Errorf("defer index %s: %w", ix.name, err)
		}
	}
	for _, tr := range searchIndex.triggers {
		if _, err := db.wr().ExecContext(ctx, "DROP TRIGGER IF EXISTS "+tr.name); err != nil {
			return fmt.Errorf("defer search trigger %s: %w", tr.name, err)
		}
	}
	if _, err := db.wr().ExecContext(ctx, "DROP TABLE IF EXISTS "+searchIndex.table); err != nil {
		return fmt.Errorf("defer search index: %w", err)
	}
	return nil
}

// dropOrphanSearchTrigger drops the body trigger of a file whose search
// index an interrupted rebuild dropped, which a migration may have made
// again since: its edits would fail on the missing index. The rebuild's end
// makes both.
func dropOrphanSearchTrigger(ctx context.Context, db *DB) error {
	var n int
	if err := db.wr().QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, searchIndex.table).Scan(&n); err != nil || n > 0 {
		return err
	}
	for _, tr := range searchIndex.triggers {
		if _, err := db.wr().ExecContext(ctx, "DROP TRIGGER IF EXISTS "+tr.name); err != nil {
			return fmt.Errorf("drop search trigger %s: %w", tr.name, err)
		}
	}
	return nil
}

// createSearchIndex builds the search index from the messages and its
// triggers when a rebuild dropped them (or an interruption stopped it
// before it built them).
func createSearchIndex(ctx context.Context, db *DB) error {
	var n int
	if err := db.wr().QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, searchIndex.table).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	tx, err := db.wr().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Every message is in the index after the rebuild: the mark moves to
	// the last, and the triggers (a migration may have made them meanwhile)
	// are made anew.
	stmts := []string{searchIndex.create, `INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')`,
		`UPDATE search_progress SET seq = coalesce((SELECT max(seq) FROM messages), 0) WHERE id = 1`}
	for _, tr := range searchIndex.triggers {
		stmts = append(stmts, "DROP TRIGGER IF EXISTS "+tr.name, tr.create)
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("build the search index: %w", err)
		}
	}
	return tx.Commit()
}

// createDeferredIndexes builds whichever deferred index is missing: after a
// rebuild that dropped them, and after one that an interruption stopped
// before it could build them.
func createDeferredIndexes(ctx context.Context, db *DB) error {
	for _, ix := range deferredIndexes {
		var n int
		if err := db.wr().QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?`, ix.name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		if _, err := db.wr().ExecContext(ctx, ix.create); err != nil {
			return fmt.Errorf("build index %s: %w", ix.name, err)
		}
	}
	if err := createSearchIndex(ctx, db); err != nil {
		return err
	}
	return catchUpSearch(ctx, db)
}
