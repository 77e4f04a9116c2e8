package notify

import (
	"context"
	"sync"
	"time"
)

// Window is one recipient's open notification in one conversation as the
// notifications read model holds it: until Ends (or until the recipient
// reads it) the conversation's messages join it and notify nobody again.
type Window struct {
	// ID is the notification's id.
	ID             string
	UserID         string
	ConversationID string
	// FirstSeq is the stream sequence of its first message; 0 for a
	// notification that notification.created events made (stored counts).
	FirstSeq uint64
	Ends     time.Time
}

// WindowStore is the notifications read model as the notifier's memory of
// open windows loads it.
type WindowStore interface {
	// OpenWindows returns the conversation's unread notifications whose
	// window ends after endsAfter.
	OpenWindows(ctx context.Context, conversationID string, endsAfter time.Time) ([]Window, error)
}

// WindowUpdate is what the notifications projection reports after it
// committed an event that opens, moves or closes windows, so that every
// node's notifier knows the windows other nodes opened.
type WindowUpdate struct {
	// Window is the user's notification in the conversation after the
	// event, when Read is false.
	Window
	// EventID is the notification event that led to Window.
	EventID string
	// Read means Window.UserID marked notifications read: every window of
	// theirs that the memory holds is forgotten.
	Read bool
}

// Bounds of the notifier's memory of windows.
const (
	windowsMaxConversations = 10_000
	windowsMax              = 200_000
	// windowsLoadSlack is how far before a job's message time the windows
	// loaded for its conversation may end: messages of a conversation reach
	// the notifier a little out of order.
	windowsLoadSlack = 5 * time.Minute
)

// windowMemory is a node's memory of open notification windows, per
// conversation: what the notifier asks for every offline recipient of
// every message instead of the read model. It is filled from the read
// model on a conversation's first job, by the notifier's own appends
// (remembered before they are made) and by the projection's reports of
// every node's events (WindowUpdate).
//
// A read forgets the reader's windows lazily: each user has the number of
// the last read seen of theirs, and a window remembered before it counts as
// absent. A window the memory lacks makes the notifier append an event that
// the projection joins into the open notification (nothing more comes of
// it); a window it kept too long would lose notifications, so every doubt
// is resolved towards forgetting.
type windowMemory struct {
	mu      sync.Mutex
	convs   map[string]*convWindows
	reads   uint64            // reads seen
	lastRd  map[string]uint64 // user -> the number of their last read seen
	floor   uint64            // the last read of a user lastRd does not hold
	windows int
}

// lastRead is the number of the user's last read seen (the floor when the
// memory no longer knows).
func (w *windowMemory) lastRead(user string) uint64 { return max(w.lastRd[user], w.floor) }

// convWindows is one conversation's open windows; everything but job is
// guarded by windowMemory.mu.
type convWindows struct {
	job    sync.Mutex // serialises this node's jobs of the conversation
	loaded bool
	open   map[string]memWindow
}

// memWindow is a remembered window.
type memWindow struct {
	firstSeq uint64
	ends     time.Time
	read     uint64 // the user's last read seen when it was remembered
	eventID  string // the event that opened it (own appends) or last reported it
	id       string // the notification's id, once the read model gave it
}

func newWindowMemory() *windowMemory {
	return &windowMemory{convs: map[string]*convWindows{}, lastRd: map[string]uint64{}}
}

// acquire returns the conversation's windows with its job lock held,
// loading them from the read model first when this node has none.
func (w *windowMemory) acquire(ctx context.Context, store WindowStore, conversationID string, at time.Time) (*convWindows, error) {
	w.mu.Lock()
	cw := w.convs[conversationID]
	if cw == nil {
		w.evictLocked()
		cw = &convWindows{open: map[string]memWindow{}}
		w.convs[conversationID] = cw
	}
	w.mu.Unlock()
	cw.job.Lock()
	w.mu.Lock()
	loaded, before := cw.loaded, w.reads
	w.mu.Unlock()
	if loaded {
		return cw, nil
	}
	var ws []Window
	if store != nil {
		var err error
		if ws, err = store.OpenWindows(ctx, conversationID, at.Add(-windowsLoadSlack)); err != nil {
			cw.job.Unlock()
			return nil, err
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, win := range ws {
		if w.lastRead(win.UserID) > before {
			continue // a read seen while loading may have closed it
		}
		w.putLocked(cw, win, "")
	}
	cw.loaded = true
	return cw, nil
}

// release ends the job that acquire started.
func (w *windowMemory) release(cw *convWindows) { cw.job.Unlock() }

// decide returns which of the offline recipients of a message (seq, at) of
// the conversation need a notification event: those without an open window
// at `at`, and those whose window began after this message (it reached the
// notifier out of order: the projection decides where it belongs). It
// remembers the windows they are about to open, ending at ends (eventID(i)
// is the id of the event that will be appended for offline[i]), so that a
// read seen from now on forgets them. inWindow is how many need nothing.
func (w *windowMemory) decide(cw *convWindows, offline []string, seq uint64, at, ends time.Time, eventID func(i int) string) (open []int, inWindow int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, u := range offline {
		last := w.lastRead(u)
		mw, ok := cw.open[u]
		if ok && mw.read == last && at.Before(mw.ends) {
			if mw.firstSeq == 0 || seq >= mw.firstSeq {
				inWindow++
				continue
			}
			mw.firstSeq, mw.eventID = seq, eventID(i)
			cw.open[u] = mw
			open = append(open, i)
			continue
		}
		if !ok {
			w.windows++
		}
		cw.open[u] = memWindow{firstSeq: seq, ends: ends, read: last, eventID: eventID(i)}
		open = append(open, i)
	}
	return open, inWindow
}

// forget drops what decide remembered for users whose events were not
// appended (the job failed and runs again).
func (w *windowMemory) forget(cw *convWindows, users []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, u := range users {
		if _, ok := cw.open[u]; ok {
			delete(cw.open, u)
			w.windows--
		}
	}
}

// observe applies the projection's reports, in stream order.
func (w *windowMemory) observe(ups []WindowUpdate) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, up := range ups {
		if up.Read {
			w.reads++
			w.lastRd[up.UserID] = w.reads
			continue
		}
		if cw := w.convs[up.ConversationID]; cw != nil {
			w.putLocked(cw, up.Window, up.EventID)
		}
	}
	if len(w.lastRd) > windowsMax {
		// Too many readers to remember each: from now on everyone counts as
		// having read last, so every window remembered so far is forgotten.
		clear(w.lastRd)
		w.floor = w.reads
	}
}

// putLocked remembers a window the read model holds. It replaces what the
// memory has for the user when that is the same notification (or the event
// that became it), an older window, or one remembered before the user's
// last read.
func (w *windowMemory) putLocked(cw *convWindows, win Window, eventID string) {
	last := w.lastRead(win.UserID)
	mw, ok := cw.open[win.UserID]
	same := ok && ((mw.id != "" && mw.id == win.ID) || (eventID != "" && mw.eventID == eventID))
	if ok && !same && mw.read == last && !win.Ends.After(mw.ends) {
		return // the memory holds a later window
	}
	if !ok {
		w.windows++
	}
	cw.open[win.UserID] = memWindow{firstSeq: win.FirstSeq, ends: win.Ends, read: last, eventID: eventID, id: win.ID}
	if w.windows > windowsMax {
		w.evictLocked()
	}
}

// evictLocked makes room: it forgets loaded conversations whose jobs are
// not running until both bounds hold with room for one more.
func (w *windowMemory) evictLocked() {
	for id, cw := range w.convs {
		if len(w.convs) < windowsMaxConversations && w.windows < windowsMax {
			return
		}
		if !cw.loaded || !cw.job.TryLock() {
			continue
		}
		cw.job.Unlock()
		w.windows -= len(cw.open)
		delete(w.convs, id)
	}
}
