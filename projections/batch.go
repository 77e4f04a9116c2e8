package projections

// batchState is what the projector knows of the conversations and markers,
// kept in memory across batches and written once per row when a batch ends
// (flush). Rows that are created or deleted (messages, receipts,
// participants) are written at once; only updates of existing rows wait.
// The result is the same as writing every event's updates one by one. The
// projector is the only writer of these rows, so what it remembers stays
// true; it forgets everything when a batch fails (the rollback undoes what
// the memory says) and when the memory grows past its bounds.
type batchState struct {
	convs map[string]*convState
	// gen numbers the batches; active lists what this batch touched, so a
	// flush visits those rows only.
	gen         uint64
	activeConvs []activeConv
	members     int // members loaded or added since the state was new
}

type activeConv struct {
	id string
	c  *convState
	// dirty lists the members this batch changed, so a flush writes those
	// rows only, however large the conversation.
	dirty []activeMember
}

type activeMember struct {
	user string
	m    *memberState
}

// Bounds of the remembered state; past them it is dropped between batches
// and reloaded from the database as needed.
const (
	stateMaxConvs   = 20000
	stateMaxMembers = 200000
)

// convState is a conversation as the projector sees it.
type convState struct {
	gen             uint64 // the batch that last touched it
	active          int    // its index in activeConvs during that batch
	exists          bool
	messageCount    uint64 // the latest message ordinal
	maxDeletedOrd   uint64 // the highest ordinal of a deleted message
	lastMessageSeq  uint64
	lastMessageID   string // the id of the message at lastMessageSeq
	lastActivitySeq uint64
	lastActivityAt  string
	lastEventSeq    uint64
	partDelta       int64
	dirty           bool // the conversations row needs an update
	members         map[string]*memberState
}

// memberState is one participant's marker and read anchor.
type memberState struct {
	gen         uint64 // the batch that last changed it
	lastReadSeq uint64
	lastReadID  *string
	lastReadAt  *string
	readOrd     uint64 // the ordinal the marker stands on
	ownAfter    uint64 // own messages after the marker
}

func newBatchState() *batchState {
	return &batchState{convs: map[string]*convState{}, gen: 1}
}

// oversized reports whether the state should be dropped before a batch.
func (st *batchState) oversized() bool {
	return len(st.convs) > stateMaxConvs || st.members > stateMaxMembers
}

// useConv records that this batch touches conversation id.
func (st *batchState) useConv(id string, c *convState) {
	if c.gen != st.gen {
		c.gen = st.gen
		c.active = len(st.activeConvs)
		st.activeConvs = append(st.activeConvs, activeConv{id: id, c: c})
	}
}

// changed records that this batch changed member user of c (which the batch
// touches already), so flush writes their row.
func (st *batchState) changed(c *convState, user string, m *memberState) {
	if m.gen != st.gen {
		m.gen = st.gen
		a := &st.activeConvs[c.active]
		a.dirty = append(a.dirty, activeMember{user, m})
	}
}

// putConv remembers a conversation and marks it touched.
func (st *batchState) putConv(id string, c *convState) {
	st.convs[id] = c
	st.members += len(c.members)
	st.useConv(id, c)
}

// settle clears the batch's change marks after its commit and starts the
// next batch.
func (st *batchState) settle() {
	for _, a := range st.activeConvs {
		a.c.partDelta, a.c.dirty = 0, false
	}
	st.activeConvs = st.activeConvs[:0]
	st.gen++
}

// conv loads a conversation and its members once per batch.
func (t *Tx) conv(id string) (*convState, error) {
	if c, ok := t.st.convs[id]; ok {
		t.st.useConv(id, c)
		return c, nil
	}
	c := &convState{}
	found, err := t.scan(`SELECT message_count, max_deleted_ord, last_message_seq,
		coalesce((SELECT m.id FROM messages m WHERE m.seq = c.last_message_seq), ''), last_activity_seq, last_activity_at, last_event_seq
		FROM conversations c WHERE id = ?`,
		[]any{id}, &c.messageCount, &c.maxDeletedOrd, &c.lastMessageSeq, &c.lastMessageID, &c.lastActivitySeq, &c.lastActivityAt, &c.lastEventSeq)
	if err != nil {
		return nil, err
	}
	c.exists = found
	c.members = map[string]*memberState{}
	if found {
		if err := t.loadMembers(id, c); err != nil {
			return nil, err
		}
	}
	t.st.putConv(id, c)
	return c, nil
}

func (t *Tx) loadMembers(id string, c *convState) error {
	s, err := t.stmt(`SELECT user_id, last_read_seq, last_read_message_id, last_read_at, read_ord, own_after FROM participants WHERE conversation_id = ?`)
	if err != nil {
		return err
	}
	rows, err := s.QueryContext(t.ctx, id)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var u string
		m := &memberState{}
		if err := rows.Scan(&u, &m.lastReadSeq, &m.lastReadID, &m.lastReadAt, &m.readOrd, &m.ownAfter); err != nil {
			return err
		}
		c.members[u] = m
	}
	return rows.Err()
}

// touch records that an accepted event changed the conversation.
func (c *convState) touch(seq uint64) {
	c.lastEventSeq = seq
	c.dirty = true
}

// flush writes the batch's updates: one row per conversation and one per
// member whose marker or anchor changed.
func (t *Tx) flush() error {
	for _, a := range t.st.activeConvs {
		id, c := a.id, a.c
		if c.dirty {
			if _, err := t.exec(`UPDATE conversations SET message_count = ?, max_deleted_ord = ?, last_message_seq = ?, last_activity_seq = ?,
				last_activity_at = ?, last_event_seq = ?, participant_count = participant_count + ? WHERE id = ?`,
				c.messageCount, c.maxDeletedOrd, c.lastMessageSeq, c.lastActivitySeq, c.lastActivityAt, c.lastEventSeq, c.partDelta, id); err != nil {
				return err
			}
		}
		for _, d := range a.dirty {
			if c.members[d.user] != d.m {
				continue // removed since (or removed and added again: its own insert wrote it)
			}
			m := d.m
			if _, err := t.exec(`UPDATE participants SET last_read_seq = ?, last_read_message_id = ?, last_read_at = ?, read_ord = ?,
				own_after = ? WHERE conversation_id = ? AND user_id = ?`,
				m.lastReadSeq, m.lastReadID, m.lastReadAt, m.readOrd, m.ownAfter, id, d.user); err != nil {
				return err
			}
		}
	}
	return nil
}
