package projections

import (
	json "github.com/goccy/go-json"

	"parley/engine"
)

// insertAttachments records the attachments a new message carries: one row
// each (at most engine.MaxAttachments), the first message to name an upload
// keeping it, and the message's list of those it kept.
func insertAttachments(tx *Tx, ev engine.Event, atts []engine.Attachment) error {
	var kept []engine.Attachment
	for i, a := range atts {
		if i == engine.MaxAttachments {
			break
		}
		if !engine.ValidID(a.ID) {
			continue
		}
		n, err := tx.exec(`INSERT INTO attachments (id, conversation_id, message_seq) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			a.ID, ev.ConversationID, ev.Seq)
		if err != nil {
			return err
		}
		if n > 0 {
			kept = append(kept, a)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	b, err := json.Marshal(kept)
	if err != nil {
		return err
	}
	_, err = tx.exec(`UPDATE messages SET attachments = ? WHERE seq = ?`, string(b), ev.Seq)
	return err
}
