package projections

import (
	"context"
	"database/sql"

	"parley/engine"
)

// AttachmentUse says which message carries an attachment; nil when none.
func (db *DB) AttachmentUse(ctx context.Context, id string) (r0 *engine.AttachmentUse, qerr error) {
	defer wrapQuery(&qerr, "attachment %s", id)
	var u engine.AttachmentUse
	err := db.lookupRow(ctx, `SELECT conversation_id, message_seq, deleted FROM attachments WHERE id = ?`, id).
		Scan(&u.ConversationID, &u.MessageSeq, &u.Deleted)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	return &u, err
}
