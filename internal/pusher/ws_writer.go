package pusher

import (
	"errors"
	"time"

	"github.com/gorilla/websocket"

	"parley/internal/realtime"
)

// The writer of a socket runs only while there is something to write: the
// hub client's Notify, a close request or a ping hands the socket to the
// server's writer pool (kick, ws_writers.go), whose worker writes until the
// queue is empty, so an idle socket has no writer goroutine. At most one
// worker writes a socket at a time, which keeps the frames in queue order.

// kick hands the socket to a writer unless one has it or the socket is gone.
// It never blocks: the hub calls it when it queues a frame.
func (w *wsConn) kick() {
	if !w.writing.CompareAndSwap(false, true) {
		return
	}
	w.mu.Lock()
	if w.dead {
		w.mu.Unlock()
		return // writing stays set: no writer starts again
	}
	w.writers.Add(1)
	w.mu.Unlock()
	w.s.writers.enqueue(w)
}

// writeLoop writes until there is nothing left, then returns the worker to
// the pool; a kick that raced with its end finds writing clear and queues
// the socket again, or the loop picks the work up itself.
func (w *wsConn) writeLoop() {
	defer w.writers.Done()
	open, batched := false, 0
	for {
		// Frames queued together (lazy presence changes woken by the
		// hub's flush, a burst) leave together, the first one included.
		if !open && w.client.Pending() > 1 {
			w.beginBatch()
			open, batched = true, 0
		}
		if w.writeNext() {
			// What is written while more is queued leaves together (up to
			// wsBatchFrames frames), in one system call.
			switch {
			case !open: // it went out on its own: it may be the only one
				w.beginBatch()
				open, batched = true, 1
			case batched+1 == wsBatchFrames:
				w.endBatch()
				open = false
			default:
				batched++
			}
			continue
		}
		if open {
			w.endBatch()
			open = false
		}
		w.writing.Store(false)
		if !w.hasWork() || !w.writing.CompareAndSwap(false, true) {
			return
		}
	}
}

// wsBatchFrames bounds the frames one batch of writes holds.
const wsBatchFrames = 64

// beginBatch holds the socket's writes from now on: before the first frame
// of a drain when more are queued, or after a first frame that went out on
// its own (it may have been the only one).
func (w *wsConn) beginBatch() {
	if w.bc != nil {
		w.bc.begin()
	}
}

// endBatch sends the held writes; a failure ends the socket.
func (w *wsConn) endBatch() {
	if w.bc != nil && w.bc.end(time.Now().Add(w.rt.WriteTimeout)) != nil {
		w.abort()
	}
}

// hasWork reports whether the writer has something to do.
func (w *wsConn) hasWork() bool {
	if w.finished.Load() {
		return false
	}
	select {
	case <-w.client.Done():
		return true
	default:
	}
	w.mu.Lock()
	ctl := w.closeReq != nil || w.pingDue
	w.mu.Unlock()
	return ctl || w.client.Pending() > 0
}

// writeNext does the most urgent piece of work and reports whether there
// was any: a drop by the hub closes the socket at once; a close request
// waits for the frames queued before it; a ping goes before queued frames.
func (w *wsConn) writeNext() bool {
	if w.finished.Load() {
		return false
	}
	select {
	case <-w.client.Done():
		switch r := w.client.Reason(); r {
		case realtime.ReasonClosed:
			w.abort()
		case realtime.ReasonTerminated:
			w.close(pusherUnauthorized, string(r))
		default:
			w.close(pusherReconnect, string(r))
		}
		return true
	default:
	}
	w.mu.Lock()
	req, ping := w.closeReq, w.pingDue
	if req != nil && req.ahead == 0 {
		w.mu.Unlock()
		w.close(req.code, req.msg)
		return true
	}
	w.pingDue = false
	if ping {
		w.mu.Unlock()
		w.write(renderPusher(control(evPing, "", struct{}{})))
		return true
	}
	// Taken under mu, so that fail counts exactly the frames ahead of it.
	f := w.client.Next()
	if f != nil && req != nil {
		req.ahead--
	}
	w.mu.Unlock()
	if f == nil {
		return false
	}
	w.write(f.Encoded(encPusher, renderPusher))
	return true
}

// fail asks the writer to send a pusher:error with code and close, after
// the frames already queued. The first request wins.
func (w *wsConn) fail(code int, msg string) {
	w.mu.Lock()
	if w.closeReq == nil {
		w.closeReq = &closeRequest{code: code, msg: msg, ahead: w.client.Pending()}
	}
	w.mu.Unlock()
	w.kick()
}

// ping asks the writer to send a pusher:ping.
func (w *wsConn) ping() {
	w.mu.Lock()
	w.pingDue = true
	w.mu.Unlock()
	w.kick()
}

// write sends one text message within the write timeout; a failure ends
// the socket. ErrCloseSent means the library closed the socket itself (a
// frame over the read limit, a protocol error) on the reader's goroutine:
// nothing more is written, and the connection stays open while the reader
// lingers, so that the client reads that close rather than a reset.
func (w *wsConn) write(b []byte) {
	_ = w.conn.SetWriteDeadline(time.Now().Add(w.rt.WriteTimeout))
	err := w.conn.WriteMessage(websocket.TextMessage, b)
	switch {
	case errors.Is(err, websocket.ErrCloseSent):
		w.finished.Store(true)
	case err != nil:
		w.abort()
	}
}

// abort ends the socket without a close frame: the reader's next read
// fails and it cleans up (a parked socket is woken for that: its closed
// connection has left the poller).
func (w *wsConn) abort() {
	w.finished.Store(true)
	_ = w.conn.NetConn().Close()
	w.wake()
}

// close sends a pusher:error and a close frame with its code, then gives
// the client a few seconds to answer the close before the reader stops (a
// waiting reader at its read deadline, a parked socket at closeBy, which
// the sweeper keeps).
func (w *wsConn) close(code int, msg string) {
	w.finished.Store(true)
	// Within a batch the two frames are held: they leave now, within the
	// same 2 s (the batch's own flush would give a client that stopped
	// reading the whole write timeout).
	deadline := time.Now().Add(2 * time.Second)
	ok := closeBy(w.conn, code, msg, deadline)
	if w.bc != nil && w.bc.end(deadline) != nil {
		w.abort() // the held frames did not leave
		return
	}
	if !ok {
		w.wake()
		return
	}
	by := time.Now().Add(wsCloseWait)
	w.closeBy.Store(by.UnixNano())
	_ = w.conn.SetReadDeadline(by)
}

// wsCloseWait is how long a closed socket waits for the client's close.
const wsCloseWait = 5 * time.Second

// closeWith sends a pusher:error and a close frame with the same code, as
// Pusher does, each within 2 s; on failure it drops the connection (unless
// the library has sent a close of its own, after which the reader lingers)
// and returns false.
func closeWith(conn *websocket.Conn, code int, msg string) bool {
	return closeBy(conn, code, msg, time.Now().Add(2*time.Second))
}

// closeBy is closeWith within deadline.
func closeBy(conn *websocket.Conn, code int, msg string, deadline time.Time) bool {
	_ = conn.SetWriteDeadline(deadline)
	err := conn.WriteMessage(websocket.TextMessage, renderPusher(errorFrame(code, msg)))
	if err == nil {
		err = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, closeReason(msg)), deadline)
	}
	if err != nil {
		if !errors.Is(err, websocket.ErrCloseSent) {
			_ = conn.NetConn().Close()
		}
		return false
	}
	return true
}
