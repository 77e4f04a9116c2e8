package projections

import "parley/engine"

// applySettings changes the actor's settings of a conversation: one row,
// theirs. A change that is not the next of the actor's versions is skipped,
// so racing changes apply one at a time. Nothing the other members see
// changes (the conversation's activity stays).
func applySettings(tx *Tx, ev engine.Event, d engine.ParticipantSettingsData) (string, error) {
	_, _, reason, err := member(tx, ev.ConversationID, ev.ActorID)
	if err != nil || reason != "" {
		return reason, err
	}
	var version uint64
	if _, err := tx.scan(`SELECT settings_version FROM participants WHERE conversation_id = ? AND user_id = ?`,
		[]any{ev.ConversationID, ev.ActorID}, &version); err != nil {
		return "", err
	}
	if d.Version != version+1 {
		return skipStaleSettings, nil
	}
	if d.Pinned != nil && *d.Pinned {
		// Racing pins each passed the command's count: the cap holds here.
		var pinned int
		if _, err := tx.scan(`SELECT count(*) FROM participants WHERE user_id = ? AND pinned_seq > 0 AND conversation_id <> ?`,
			[]any{ev.ActorID, ev.ConversationID}, &pinned); err != nil {
			return "", err
		}
		if pinned >= engine.MaxPins {
			return skipTooManyPins, nil
		}
	}
	// An archiving or pinning keeps its sequence: archived until a later
	// message, pinned in that order.
	seqIf := func(b *bool) any {
		if b == nil {
			return nil
		}
		if *b {
			return ev.Seq
		}
		return 0
	}
	var muted any
	if d.Muted != nil {
		muted = *d.Muted
	}
	_, err = tx.exec(`UPDATE participants SET muted = coalesce(?, muted), archived_seq = coalesce(?, archived_seq),
		pinned_seq = coalesce(?, pinned_seq), settings_version = ? WHERE conversation_id = ? AND user_id = ?`,
		muted, seqIf(d.Archived), seqIf(d.Pinned), d.Version, ev.ConversationID, ev.ActorID)
	return "", err
}
