package projections

import (
	"context"
	"fmt"
	"time"
)

// InsertCeiling measures the raw rate of message-row inserts into a fresh
// database at path (the messages table with its indexes, prepared, 10,000
// per transaction): the ceiling any projector on this driver works under.
func InsertCeiling(ctx context.Context, path string, n int) (time.Duration, error) {
	db, err := OpenBulk(ctx, path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	start := time.Now()
	for seq := 0; seq < n; {
		tx, err := db.wr().BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO messages (seq, id, conversation_id, sender_id, body, client_temp_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			tx.Rollback()
			return 0, err
		}
		for i := 0; i < 10000 && seq < n; i++ {
			seq++
			if _, err := st.ExecContext(ctx, seq, fmt.Sprintf("01M8AF3HSW2EFS4JBRP%07d", seq), fmt.Sprintf("01M8AF3HSBD90Y0S8J3XF%05d", seq%1000),
				fmt.Sprint("u", seq%500), "a message body of about a hundred bytes ..........................................................", fmt.Sprint("t", seq), "2026-11-25T23:01:59.228199Z"); err != nil {
				tx.Rollback()
				return 0, err
			}
		}
		if err := tx.Commit(); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}
