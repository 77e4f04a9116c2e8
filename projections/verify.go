package projections

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// ProjectedTables are the tables a rebuild must reproduce exactly, each with
// the columns of its primary key (the comparison order).
var ProjectedTables = []struct{ Name, Key string }{
	{"conversations", "id"},
	{"participants", "conversation_id, user_id"},
	{"messages", "seq"},
	{"message_reactions", "message_seq, user_id, emoji"},
	{"reaction_counts", "message_seq, emoji"},
	{"mentions", "user_id, conversation_id, message_seq"},
	{"attachments", "id"},
	{"message_reads", "read_seq"},
	{"unread_summary", "conversation_id, user_id"},
	{"skipped_events", "seq"},
	{"notifications", "seq"},
	{"notification_items", "message_id, user_id"},
	{"dead_letters", "seq"},
	{"checkpoints", "name"},
}

// TableReport is the comparison of one table.
type TableReport struct {
	Table       string   `json:"table"`
	LiveRows    int64    `json:"live_rows"`
	RebuiltRows int64    `json:"rebuilt_rows"`
	LiveSum     string   `json:"live_checksum"`
	RebuiltSum  string   `json:"rebuilt_checksum"`
	Diffs       []string `json:"first_differences,omitempty"`
}

// Equal reports whether both sides hold the same rows.
func (r TableReport) Equal() bool {
	return r.LiveRows == r.RebuiltRows && r.LiveSum == r.RebuiltSum && len(r.Diffs) == 0
}

// ReadSnapshot is a consistent read of a live database: every query through
// it sees the database as of Checkpoint.
type ReadSnapshot struct {
	Tx         *sql.Tx
	Checkpoint uint64
}

// ReadSnapshot opens a read transaction and reads the checkpoint in it.
// Close it with Tx.Rollback.
func (db *DB) ReadSnapshot(ctx context.Context) (*ReadSnapshot, error) {
	tx, err := db.rd().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	s := &ReadSnapshot{Tx: tx}
	if err := tx.QueryRowContext(ctx, `SELECT coalesce((SELECT seq FROM checkpoints WHERE name = ?), 0)`, checkpointName).
		Scan(&s.Checkpoint); err != nil {
		tx.Rollback()
		return nil, err
	}
	return s, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// maxDiffs bounds the differences reported per table.
const maxDiffs = 5

// Compare compares every projected table of the live snapshot with the
// rebuilt database, row by row in primary-key order.
func Compare(ctx context.Context, live *ReadSnapshot, rebuilt *DB) ([]TableReport, error) {
	var out []TableReport
	for _, t := range ProjectedTables {
		r, err := compareTable(ctx, live.Tx, rebuilt.rd(), t.Name, t.Key)
		if err != nil {
			return nil, fmt.Errorf("compare %s: %w", t.Name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// tableCursor walks one side of a table in key order.
type tableCursor struct {
	rows  *sql.Rows
	nkey  int
	vals  []any
	ok    bool
	count int64
	h     hash.Hash
}

func openCursor(ctx context.Context, q querier, table, key string) (*tableCursor, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+key+", * FROM "+table+" ORDER BY "+key)
	if err != nil {
		return nil, err
	}
	cols, err := rows.Columns()
	if err != nil {
		rows.Close()
		return nil, err
	}
	return &tableCursor{rows: rows, nkey: len(strings.Split(key, ",")), vals: make([]any, len(cols)), h: sha256.New()}, nil
}

func (c *tableCursor) next() error {
	c.ok = c.rows.Next()
	if !c.ok {
		return c.rows.Err()
	}
	ptrs := make([]any, len(c.vals))
	for i := range c.vals {
		ptrs[i] = &c.vals[i]
	}
	if err := c.rows.Scan(ptrs...); err != nil {
		return err
	}
	c.count++
	fmt.Fprintln(c.h, c.row())
	return nil
}

// row renders the row (without the repeated key columns) with its types.
func (c *tableCursor) row() string {
	parts := make([]string, 0, len(c.vals)-c.nkey)
	for _, v := range c.vals[c.nkey:] {
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		parts = append(parts, fmt.Sprintf("%#v", v))
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// cmpKey orders two rows by their key columns.
func cmpKey(a, b []any, n int) int {
	for i := range n {
		switch x := a[i].(type) {
		case int64:
			y, _ := b[i].(int64)
			if x != y {
				if x < y {
					return -1
				}
				return 1
			}
		default:
			xs, ys := fmt.Sprint(a[i]), fmt.Sprint(b[i])
			if c := strings.Compare(xs, ys); c != 0 {
				return c
			}
		}
	}
	return 0
}

func compareTable(ctx context.Context, live, rebuilt querier, table, key string) (TableReport, error) {
	rep := TableReport{Table: table}
	l, err := openCursor(ctx, live, table, key)
	if err != nil {
		return rep, err
	}
	defer l.rows.Close()
	r, err := openCursor(ctx, rebuilt, table, key)
	if err != nil {
		return rep, err
	}
	defer r.rows.Close()
	if err := l.next(); err != nil {
		return rep, err
	}
	if err := r.next(); err != nil {
		return rep, err
	}
	diff := func(s string) {
		if len(rep.Diffs) < maxDiffs {
			rep.Diffs = append(rep.Diffs, s)
		}
	}
	for l.ok || r.ok {
		var c int
		switch {
		case !r.ok:
			c = -1
		case !l.ok:
			c = 1
		default:
			c = cmpKey(l.vals, r.vals, l.nkey)
		}
		switch {
		case c < 0:
			diff("only live:    " + l.row())
			err = l.next()
		case c > 0:
			diff("only rebuilt: " + r.row())
			err = r.next()
		default:
			if lr, rr := l.row(), r.row(); lr != rr {
				diff("live:    " + lr + "\n    rebuilt: " + rr)
			}
			if err = l.next(); err == nil {
				err = r.next()
			}
		}
		if err != nil {
			return rep, err
		}
	}
	rep.LiveRows, rep.RebuiltRows = l.count, r.count
	rep.LiveSum = hex.EncodeToString(l.h.Sum(nil))[:16]
	rep.RebuiltSum = hex.EncodeToString(r.h.Sum(nil))[:16]
	return rep, nil
}
