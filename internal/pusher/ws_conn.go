package pusher

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"parley/internal/pusher/apps"
	"parley/internal/realtime"
)

// wsConn is one Pusher WebSocket. A reader handles client frames while
// they come; on Linux it then parks the socket in the server's poller and
// ends, and the poller starts a reader again when the client sends more
// (ws_poll_linux.go); elsewhere the reader waits on the socket. Every frame
// the server sends goes through the hub client's bounded queue, drained by
// a writer that runs only while there is something to write (ws_writer.go),
// so replies and channel events keep their order. The server's sweeper
// keeps its activity, idle and close deadlines (ws_sweeper.go): an idle
// socket holds no goroutine and no timer.
type wsConn struct {
	s      *Server
	rt     *Config
	app    *apps.App
	ns     string // the app's hub namespace (appNamespace)
	ip     string // the client address counted in the per-address cap
	conn   *websocket.Conn
	br     *bufio.Reader   // conn's read buffer (wsHijacker)
	raw    syscall.RawConn // the TCP connection, polled by waitReadable; nil if not a socket
	bc     *batchConn      // conn's connection, whose writes the writer batches; nil if not wrapped
	client *realtime.Client
	poller *wsPoller // nil: the reader waits on the socket itself

	pollID    uint64       // the poller's registration; 0 before the first park
	pollState atomic.Int32 // wsReading or wsParked
	closeBy   atomic.Int64 // unix nanos by which the client must answer the close sent; 0 if none

	limiter  *rate.Limiter // client events; made on the first one
	presence keySet        // hub keys of the presence channels joined
	counted  keySet        // hub keys of the application channels counted in Occupancy

	lastActivity atomic.Int64 // unix nanos of the last client frame
	lastSubs     atomic.Int64 // unix nanos since when the socket has had no subscription; 0 while it has one
	pingAt       int64        // unix nanos of the unanswered ping; the sweeper's own

	writing  atomic.Bool // a writer runs (or the socket is gone)
	finished atomic.Bool // a close frame was sent or the connection dropped: nothing more is written or handled
	writers  sync.WaitGroup
	mu       sync.Mutex // guards the fields below
	dead     bool       // the reader has ended: no writer starts again
	closeReq *closeRequest
	pingDue  bool
}

// closeRequest asks the writer to send a pusher:error and close once the
// frames queued before the request are written.
type closeRequest struct {
	code  int
	msg   string
	ahead int
}

// The states of a socket's reader: a goroutine reads it, or the poller
// holds it and starts a reader when it becomes readable.
const (
	wsReading int32 = iota
	wsParked
)

// run starts serving the socket, on its own goroutine: the HTTP handler
// that upgraded it has returned, releasing the request.
func (w *wsConn) run() {
	if w.rt.Occupancy != nil {
		w.rt.Occupancy.Add(realtime.ConnectionsKey(w.ns), 1)
	}
	now := time.Now().UnixNano()
	w.lastActivity.Store(now)
	w.lastSubs.Store(now)
	w.client.Notify(w.kick)
	w.client.Send(control(evConnectionEstablished, "", map[string]any{
		"socket_id": w.client.ID(), "activity_timeout": max(1, int(w.rt.ActivityTimeout/time.Second)),
	}))
	w.s.sweeper.add(w)
	w.read()
}

// finish releases everything the socket held, once its connection ended.
func (w *wsConn) finish() {
	w.poller.forget(w.pollID)
	w.s.sweeper.remove(w)
	w.stopWriter()
	w.cleanup()
	if w.rt.Occupancy != nil {
		w.rt.Occupancy.Add(realtime.ConnectionsKey(w.ns), -1)
	}
	w.s.perIP.release(w.ip)
	w.s.wsConns.Done()
}

// wake starts a reader for the socket if the poller holds it: it became
// readable, or its connection was dropped and the reader must finish it.
func (w *wsConn) wake() {
	if w.pollState.CompareAndSwap(wsParked, wsReading) {
		go w.read()
	}
}

// stopWriter drops the connection and waits for a running writer, whose
// write then fails at once; none starts afterwards. What a writer's open
// batch holds (the library's reply to the client's close may be among it)
// is sent first, within a second.
func (w *wsConn) stopWriter() {
	w.mu.Lock()
	w.dead = true
	w.mu.Unlock()
	w.finished.Store(true)
	if w.bc != nil {
		// Set on the socket itself first, so a write in flight (which holds
		// the batch's lock) is cut short too.
		// A flush the writer starts meanwhile sets its own deadline: the
		// timer drops the connection at the second whatever the order.
		by := time.Now().Add(time.Second)
		_ = w.bc.Conn.SetWriteDeadline(by)
		drop := time.AfterFunc(time.Second, func() { _ = w.bc.Conn.Close() })
		_ = w.bc.end(by)
		drop.Stop()
	}
	_ = w.conn.NetConn().Close()
	w.writers.Wait()
}

// cleanup releases the socket's presence leases and hub place.
func (w *wsConn) cleanup() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.s.closing), 5*time.Second)
	defer cancel()
	for _, ch := range w.presence {
		w.rt.Presence.Leave(ctx, w.client, ch)
	}
	for len(w.counted) > 0 {
		w.uncount(w.counted[len(w.counted)-1])
	}
	w.rt.Hub.Disconnect(w.client)
}

// read handles client frames until none is waiting, then parks the socket
// in the poller and returns; without a poller it waits for the next one.
// When the connection fails or closes (a close the server sent ends it when
// the client answers, or at closeBy) it finishes the socket. The server's
// shutdown closes every socket through the hub.
func (w *wsConn) read() {
	ctx := w.s.closing
	// Whether this reader ends when the client is quiet: then it handles
	// frames itself, else aside, to keep the stack it waits on small.
	parks := w.poller != nil && w.raw != nil && w.br != nil
	for {
		if !w.buffered() {
			if parks && w.poller.park(w) {
				return
			}
			parks = false
			if w.waitReadable() != nil {
				break
			}
		}
		typ, data, err := w.conn.ReadMessage()
		if err != nil {
			w.lingerAfter(err)
			break
		}
		if w.finished.Load() {
			continue // closing: wait for the client's close frame
		}
		w.lastActivity.Store(time.Now().UnixNano())
		if typ != websocket.TextMessage {
			w.client.Send(errorFrame(pusherReconnect, "malformed message: binary frames are not supported"))
			continue
		}
		if parks {
			w.handle(ctx, data)
		} else {
			w.handleAside(ctx, data)
		}
	}
	w.finish()
}

// lingerAfter keeps reading, and discarding, for up to wsCloseWait after
// the library closed the socket itself (a frame over the read limit: 1009,
// or a protocol error), so that the client reads the close frame instead of
// a reset while it is still sending. It lingers even when the writer has
// already stopped (finished): a write that met the library's close stops
// the writer without dropping the connection.
func (w *wsConn) lingerAfter(err error) {
	var ce *websocket.CloseError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return
	}
	w.finished.Store(true)
	_ = w.conn.SetReadDeadline(time.Now().Add(wsCloseWait))
	_, _ = io.Copy(io.Discard, w.conn.NetConn())
}

// handleAside handles one client frame on a short-lived goroutine and
// waits for it (when the reader lives as long as the socket). Handling (JSON, signatures, presence over NATS) needs a
// deep stack; doing it aside keeps the reader, which lives as long as the
// socket, on the small stack a blocked read needs, instead of keeping the
// largest stack a subscription ever needed until the garbage collector
// shrinks it. Client frames are few (subscriptions, pings, whispers).
func (w *wsConn) handleAside(ctx context.Context, data []byte) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.handle(ctx, data)
	}()
	<-done
}

func (w *wsConn) handle(ctx context.Context, data []byte) {
	var f pusherIn
	if err := json.Unmarshal(data, &f); err != nil || f.Event == "" {
		w.client.Send(errorFrame(pusherReconnect, "malformed message: expected a JSON object with event and data"))
		return
	}
	switch {
	case f.Event == evPing:
		w.client.Send(control(evPong, "", struct{}{}))
	case f.Event == evPong:
	case f.Event == evSubscribe:
		w.subscribe(ctx, f.payload())
	case f.Event == evUnsubscribe:
		w.unsubscribe(ctx, f.payload())
	case len(f.Event) > 7 && f.Event[:7] == "client-":
		w.clientEvent(ctx, &f)
	}
}

// allow reports whether the client may send another client event now.
func (w *wsConn) allow() bool {
	if w.limiter == nil {
		w.limiter = rate.NewLimiter(rate.Limit(w.rt.ClientEventsPerSecond), w.rt.ClientEventBurst)
	}
	return w.limiter.Allow()
}
