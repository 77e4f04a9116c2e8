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

// dropDeferredIndexes drops the deferred indexes of a database being built.
func dropDeferredIndexes(ctx context.Context, db *DB) error {
	for _, ix := range deferredIndexes {
		if _, err := db.wr().ExecContext(ctx, "DROP INDEX IF EXISTS "+ix.name); err != nil {
			return fmt.Errorf("defer index %s: %w", ix.name, err)
		}
	}
	return nil
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
	return nil
}
