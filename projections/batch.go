package projections

// batchState is what the projector knows of the counters and markers, kept
// in memory across batches and written once per row when a batch ends
// (flush). Rows that are created or deleted (messages, receipts,
// participants) are written at once; only updates of existing rows wait.
// The result is the same as writing every event's updates one by one. The
// projector is the only writer of these rows, so what it remembers stays
// true; it forgets everything when a batch fails (the rollback undoes what
// the memory says) and when the memory grows past its bounds.
type batchState struct {
	convs  map[string]*convState
	totals map[string]*totalState
	// gen numbers the batches; active lists what this batch touched, so a
	// flush visits those rows only.
	gen          uint64
	activeConvs  []activeConv
	activeTotals []activeTotal
	members      int // members loaded or added since the state was new
}

type activeConv struct {
	id string
	c  *convState
}

type activeTotal struct {
	user string
	s    *totalState
}

// Bounds of the remembered state; past them it is dropped between batches
// and reloaded from the database as needed.
const (
	stateMaxConvs   = 20000
	stateMaxMembers = 200000
	stateMaxTotals  = 200000
)

// convState is a conversation as the projector sees it.
type convState struct {
	gen             uint64 // the batch that last touched it
	exists          bool
	lastMessageSeq  uint64
	lastActivitySeq uint64
	lastActivityAt  string
	lastEventSeq    uint64
	msgDelta        int64
	partDelta       int64
	dirty           bool // the conversations row needs an update
	activityDirty   bool // every participant's last_activity_seq needs an update
	members         map[string]*memberState
}

// memberState is one participant's marker and unread count.
type memberState struct {
	lastReadSeq uint64
	lastReadID  *string
	lastReadAt  *string
	unread      int64
	dirty       bool
}

type totalState struct {
	gen   uint64
	total int64
	dirty bool
}

func newBatchState() *batchState {
	return &batchState{convs: map[string]*convState{}, totals: map[string]*totalState{}, gen: 1}
}

// oversized reports whether the state should be dropped before a batch.
func (st *batchState) oversized() bool {
	return len(st.convs) > stateMaxConvs || st.members > stateMaxMembers || len(st.totals) > stateMaxTotals
}

// useTotal records that this batch touches user's unread total.
func (st *batchState) useTotal(user string, s *totalState) {
	if s.gen != st.gen {
		s.gen = st.gen
		st.activeTotals = append(st.activeTotals, activeTotal{user, s})
	}
}

// useConv records that this batch touches conversation id.
func (st *batchState) useConv(id string, c *convState) {
	if c.gen != st.gen {
		c.gen = st.gen
		st.activeConvs = append(st.activeConvs, activeConv{id, c})
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
		c := a.c
		c.msgDelta, c.partDelta, c.dirty, c.activityDirty = 0, 0, false, false
		for _, m := range c.members {
			m.dirty = false
		}
	}
	for _, a := range st.activeTotals {
		a.s.dirty = false
	}
	st.activeConvs, st.activeTotals = st.activeConvs[:0], st.activeTotals[:0]
	st.gen++
}

// conv loads a conversation and its members once per batch.
func (t *Tx) conv(id string) (*convState, error) {
	if c, ok := t.st.convs[id]; ok {
		t.st.useConv(id, c)
		return c, nil
	}
	c := &convState{}
	found, err := t.scan(`SELECT last_message_seq, last_activity_seq, last_activity_at, last_event_seq FROM conversations WHERE id = ?`,
		[]any{id}, &c.lastMessageSeq, &c.lastActivitySeq, &c.lastActivityAt, &c.lastEventSeq)
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
	s, err := t.stmt(`SELECT user_id, last_read_seq, last_read_message_id, last_read_at, unread_count FROM participants WHERE conversation_id = ?`)
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
		if err := rows.Scan(&u, &m.lastReadSeq, &m.lastReadID, &m.lastReadAt, &m.unread); err != nil {
			return err
		}
		c.members[u] = m
	}
	return rows.Err()
}

// total loads a user's unread total once per batch.
func (t *Tx) total(user string) (*totalState, error) {
	if s, ok := t.st.totals[user]; ok {
		t.st.useTotal(user, s)
		return s, nil
	}
	s := &totalState{}
	if _, err := t.scan(`SELECT unread_total FROM unread_summary WHERE user_id = ?`, []any{user}, &s.total); err != nil {
		return nil, err
	}
	t.st.totals[user] = s
	t.st.useTotal(user, s)
	return s, nil
}

// addUnread changes a member's unread count and their total by d.
func (t *Tx) addUnread(user string, m *memberState, d int64) error {
	if d == 0 {
		return nil
	}
	tot, err := t.total(user)
	if err != nil {
		return err
	}
	m.unread += d
	m.dirty = true
	tot.total += d
	tot.dirty = true
	return nil
}

// touch records that an accepted event changed the conversation.
func (c *convState) touch(seq uint64) {
	c.lastEventSeq = seq
	c.dirty = true
}

// flush writes the batch's updates.
func (t *Tx) flush() error {
	for _, a := range t.st.activeConvs {
		id, c := a.id, a.c
		if c.dirty {
			if _, err := t.exec(`UPDATE conversations SET last_message_seq = ?, last_activity_seq = ?, last_activity_at = ?,
				last_event_seq = ?, message_count = message_count + ?, participant_count = participant_count + ? WHERE id = ?`,
				c.lastMessageSeq, c.lastActivitySeq, c.lastActivityAt, c.lastEventSeq, c.msgDelta, c.partDelta, id); err != nil {
				return err
			}
		}
		// A member written here takes the activity in the same row write;
		// the statement after it then rewrites only the other rows.
		for u, m := range c.members {
			if !m.dirty {
				continue
			}
			var err error
			if c.activityDirty {
				_, err = t.exec(`UPDATE participants SET last_read_seq = ?, last_read_message_id = ?, last_read_at = ?, unread_count = ?,
					last_activity_seq = ? WHERE conversation_id = ? AND user_id = ?`,
					m.lastReadSeq, m.lastReadID, m.lastReadAt, m.unread, c.lastActivitySeq, id, u)
			} else {
				_, err = t.exec(`UPDATE participants SET last_read_seq = ?, last_read_message_id = ?, last_read_at = ?, unread_count = ?
					WHERE conversation_id = ? AND user_id = ?`, m.lastReadSeq, m.lastReadID, m.lastReadAt, m.unread, id, u)
			}
			if err != nil {
				return err
			}
		}
		if c.activityDirty {
			if _, err := t.exec(`UPDATE participants SET last_activity_seq = ?1 WHERE conversation_id = ?2 AND last_activity_seq <> ?1`,
				c.lastActivitySeq, id); err != nil {
				return err
			}
		}
	}
	for _, a := range t.st.activeTotals {
		u, s := a.user, a.s
		if s.dirty {
			if _, err := t.exec(`INSERT INTO unread_summary (user_id, unread_total) VALUES (?, ?)
				ON CONFLICT (user_id) DO UPDATE SET unread_total = excluded.unread_total`, u, s.total); err != nil {
				return err
			}
		}
	}
	return nil
}
