package projections

import (
	"slices"

	json "github.com/goccy/go-json"

	"parley/engine"
)

// mentionedMembers keeps of a message's mentions those who are participants
// when it is applied, not the sender, each once, at most engine.MaxMentions.
func mentionedMembers(c *convState, sender string, mentions []string) []string {
	var out []string
	for _, u := range mentions {
		if len(out) == engine.MaxMentions {
			break
		}
		if u != sender && c.members[u] != nil && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// mentionsJSON is the messages.mentions column: NULL for none.
func mentionsJSON(users []string) any {
	if len(users) == 0 {
		return nil
	}
	b, _ := json.Marshal(users)
	return string(b)
}

// insertMentions writes one row per mentioned user.
func insertMentions(tx *Tx, conversationID string, seq uint64, users []string) error {
	for _, u := range users {
		if _, err := tx.exec(`INSERT INTO mentions (user_id, conversation_id, message_seq) VALUES (?, ?, ?)`, u, conversationID, seq); err != nil {
			return err
		}
	}
	return nil
}
