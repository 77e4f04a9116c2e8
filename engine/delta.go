package engine

import (
	"context"
	"maps"
	"slices"
	"sync"

	json "github.com/goccy/go-json"
)

// DeltaCursor says where a delta starts: after a message or after a stream
// sequence. The zero value starts at the beginning of the conversation.
type DeltaCursor struct {
	AfterMessageID string
	AfterSeq       uint64
	HasSeq         bool
}

// Delta replays the conversation's events after the cursor straight from the
// log, up to the local projection's checkpoint, so the events and the summary
// in the answer agree. Events the projector rejected are left out, but the
// cursor moves past them.
func (s *Service) Delta(ctx context.Context, userID, conversationID string, cur DeltaCursor, limit int) (*Delta, error) {
	limit, err := PageLimit(limit, s.limits.DefaultDelta, s.limits.MaxDelta)
	if err != nil {
		return nil, err
	}
	if cur.AfterMessageID != "" && cur.HasSeq {
		return nil, Errorf(KindMalformed, "ambiguous_cursor", "give after_message_id or after_seq, not both")
	}
	// The common reconnect needs no wait and its cursor is in memory: one
	// read (the snapshot, which also tells membership) answers it. Anything
	// else, and a snapshot that finds no membership, takes the full path,
	// so a non-participant gets the same 404 either way.
	after, snap, err := s.deltaFast(ctx, userID, conversationID, cur)
	if err != nil {
		return nil, err
	}
	if snap == nil {
		if after, snap, err = s.deltaStart(ctx, userID, conversationID, cur); err != nil {
			return nil, err
		}
	}
	d := &Delta{Events: []*WireEvent{}, Conversation: snap.Conversation, Summary: snap.Summary, LastSeq: after}
	if after >= snap.Checkpoint {
		return d, nil
	}
	// From memory: the events' wire forms and JSON, shared (read-only).
	// From the log: the events, turned into wire forms below.
	wp := wiresPool.Get().(*[]CachedWire)
	// Empty: the events are wires[0:n] below.
	wires, skipped, deleted, cached := s.recentEvents((*wp)[:0], conversationID, after, snap.Checkpoint, limit+1)
	defer func() { // d keeps what it needs of wires; the slice goes back
		clear(wires)
		*wp = wires[:0]
		wiresPool.Put(wp)
	}()
	var evs []Event
	n := len(wires)
	if !cached {
		var more bool
		if evs, more, err = s.log.ConversationEvents(ctx, conversationID, after, limit+1); err != nil {
			return nil, err
		}
		d.HasMore = more
		for len(evs) > 0 && evs[len(evs)-1].Seq > snap.Checkpoint {
			evs, d.HasMore = evs[:len(evs)-1], false // the rest is not projected here yet
		}
		n = len(evs)
	}
	if n > limit {
		n, d.HasMore = limit, true
	}
	if n == 0 {
		return d, nil
	}
	if cached {
		d.LastSeq = wires[n-1].Wire.Seq
	} else {
		d.LastSeq = evs[n-1].Seq
		if skipped, err = s.store.Skipped(ctx, conversationID, after, d.LastSeq); err != nil {
			return nil, err
		}
		// The log keeps a deleted message's body; the answer must not.
		if deleted, err = s.store.Deleted(ctx, conversationID, after, d.LastSeq); err != nil {
			return nil, err
		}
	}
	// An edit of a message deleted since carries text the answer must not
	// either; the message may be older than the delta, so ask for those.
	if deleted, err = s.deletedEdits(ctx, conversationID, wires, evs, n, cached, deleted); err != nil {
		return nil, err
	}
	d.lists = deltaListsPool.Get().(*deltaLists)
	d.Events = slices.Grow(d.lists.events[:0], n)
	if cached {
		d.encoded = slices.Grow(d.lists.encoded[:0], n)
	}
	for i := range n {
		var w *WireEvent
		var raw []byte
		if cached {
			w, raw = wires[i].Wire, wires[i].JSON
		} else {
			x := Wire(evs[i])
			w = &x
		}
		if skipped[w.Seq] {
			continue
		}
		if m, ok := w.Data.(Message); ok {
			if at, gone := deleted[m.ID]; gone {
				c := *w         // a copy: the memory's form stays as it is
				deletedAt := at // only a deleted message's time goes to the heap
				m.Body, m.DeletedAt = "", &deletedAt
				m.Mentions, m.Attachments = nil, nil // as history shows a deleted message
				c.Data, w, raw = m, &c, nil
			}
		}
		if ch, ok := w.Data.(MessageChange); ok && ch.Body != nil {
			if _, gone := deleted[ch.MessageID]; gone {
				c := *w
				ch.Body, ch.Mentions = &emptyBody, nil
				c.Data, w, raw = ch, &c, nil
			}
		}
		d.Events = append(d.Events, w)
		if cached {
			d.encoded = append(d.encoded, raw)
		}
	}
	return d, nil
}

// emptyBody is what an edit of a since-deleted message shows.
var emptyBody = ""

// deletedEdits adds to deleted the messages that the first n events edit
// and that are deleted now, when deleted does not say already (one read,
// only for a delta with edits). deleted may be the memory's: a new map is
// returned when anything is added.
func (s *Service) deletedEdits(ctx context.Context, conversationID string, wires []CachedWire, evs []Event, n int, cached bool, deleted map[string]string) (map[string]string, error) {
	var ids []string
	for i := range n {
		var id string
		if cached {
			if ch, ok := wires[i].Wire.Data.(MessageChange); ok && ch.Body != nil {
				id = ch.MessageID
			}
		} else if evs[i].Type == MessageEdited {
			var d MessageEditedData
			if json.Unmarshal(evs[i].Data, &d) == nil {
				id = d.MessageID
			}
		}
		if _, known := deleted[id]; id != "" && !known {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return deleted, nil
	}
	gone, err := s.store.DeletedAmong(ctx, conversationID, ids)
	if err != nil || len(gone) == 0 {
		return deleted, err
	}
	out := make(map[string]string, len(deleted)+len(gone))
	maps.Copy(out, deleted)
	maps.Copy(out, gone)
	return out, nil
}

// recentEvents answers from the node's memory of recent events, appending
// to dst, when it holds all of the conversation's events in (after, to];
// cached is false otherwise (or without a cache).
func (s *Service) recentEvents(dst []CachedWire, conversationID string, after, to uint64, max int) (wires []CachedWire, skipped map[uint64]bool, deleted map[string]string, cached bool) {
	if s.recent == nil {
		return dst, nil, nil, false
	}
	return s.recent.AppendEvents(dst, conversationID, after, to, max)
}

// wiresPool holds the slices a delta collects the memory's events in, and
// deltaListsPool its answer's lists: a delta's garbage is what makes the
// collector run while deltas are served, and the collector's cycles are
// most of their tail.
var (
	wiresPool      = sync.Pool{New: func() any { return new([]CachedWire) }}
	deltaListsPool = sync.Pool{New: func() any { return new(deltaLists) }}
)

// deltaLists are a Delta's Events and encoded, kept for the next delta.
type deltaLists struct {
	events  []*WireEvent
	encoded [][]byte
}

// Release gives the delta's event lists back for reuse, once its answer has
// been written. Call it once, on the Delta Service.Delta returned (never on
// a copy): afterwards neither d nor a slice taken from it (d.Events) may be
// used. A delta never released is simply collected.
func (d *Delta) Release() {
	l := d.lists
	if l == nil {
		return
	}
	clear(d.Events)
	l.events = d.Events[:0]
	if d.encoded != nil { // from the log, no encoded list was taken
		clear(d.encoded)
		l.encoded = d.encoded[:0]
	}
	d.Events, d.encoded, d.lists = nil, nil, nil
	deltaListsPool.Put(l)
}

// deltaFast resolves the cursor from memory and reads the snapshot, when
// the cursor needs no wait; a nil snapshot means: take deltaStart.
func (s *Service) deltaFast(ctx context.Context, userID, conversationID string, cur DeltaCursor) (uint64, *Snapshot, error) {
	after := cur.AfterSeq
	if cur.AfterMessageID != "" {
		if s.recent == nil {
			return 0, nil, nil
		}
		seq, ok := s.recent.MessageSeq(conversationID, cur.AfterMessageID)
		if !ok {
			return 0, nil, nil
		}
		after = seq
	}
	if after > s.store.Applied() {
		return 0, nil, nil
	}
	snap, err := s.store.Snapshot(ctx, conversationID, userID)
	return after, snap, err
}

// deltaStart checks membership (404 first), resolves the cursor, waits for
// a cursor this node has not applied yet, and reads the snapshot.
func (s *Service) deltaStart(ctx context.Context, userID, conversationID string, cur DeltaCursor) (uint64, *Snapshot, error) {
	ticket := s.seqs.ticket()
	if _, err := s.participant(ctx, conversationID, userID); err != nil {
		return 0, nil, err
	}
	after := cur.AfterSeq
	if cur.AfterMessageID != "" {
		m, err := s.message(ctx, conversationID, cur.AfterMessageID)
		if err != nil {
			return 0, nil, cursorError(err)
		}
		after = m.Seq
	}
	if after > s.store.Applied() {
		last, lerr := s.logLast(ctx, ticket)
		if lerr != nil {
			return 0, nil, lerr
		}
		if after > last {
			return 0, nil, ErrUnknownCursor
		}
		// A cursor from a node further ahead waits as long as any lookup
		// (the catch-up wait), then answers catching_up.
		wctx, cancel := context.WithTimeout(ctx, s.catchUpWait)
		err := s.store.WaitApplied(wctx, after)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return 0, nil, ctx.Err()
			}
			return 0, nil, ErrCatchingUp // in the log, not applied here yet
		}
	}
	snap, err := s.store.Snapshot(ctx, conversationID, userID)
	if err != nil {
		return 0, nil, err
	}
	if snap == nil {
		return 0, nil, ErrConversationNotFound
	}
	return after, snap, nil
}
