package api

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"parley/engine"
	"parley/internal/apps"
)

// wsConn is one Pusher WebSocket: the reader (this handler's goroutine)
// handles client frames; the writer drains the hub client's bounded queue
// and owns the timers. Every frame the server sends goes through that
// queue, so replies and channel events keep their order.
type wsConn struct {
	s        *Server
	rt       *Realtime
	app      *apps.App
	ns       string // the app's hub namespace (appNamespace)
	conn     *websocket.Conn
	client   *engine.Client
	limiter  *rate.Limiter
	closeReq chan closeRequest

	lastActivity atomic.Int64    // unix nanos of the last client frame
	lastSubs     atomic.Int64    // unix nanos since when the socket has had no subscription; 0 while it has one
	presence     map[string]bool // hub keys of the presence channels joined
	counted      map[string]bool // hub keys of the application channels counted in Occupancy
}

// closeRequest asks the writer to send a pusher:error and close.
type closeRequest struct {
	code int
	msg  string
}

func (w *wsConn) run(ctx context.Context) {
	now := time.Now().UnixNano()
	w.lastActivity.Store(now)
	w.lastSubs.Store(now)
	w.client.Send(control(evConnectionEstablished, "", map[string]any{
		"socket_id": w.client.ID(), "activity_timeout": max(1, int(w.rt.ActivityTimeout/time.Second)),
	}))
	ctx, cancel := context.WithCancel(ctx)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		w.writeLoop(ctx)
		cancel()
	}()
	w.readLoop(ctx)
	cancel()
	<-writerDone
	w.cleanup()
}

// cleanup releases the socket's presence leases and hub place.
func (w *wsConn) cleanup() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.s.closing), 5*time.Second)
	defer cancel()
	for ch := range w.presence {
		w.rt.Presence.Leave(ctx, w.client, ch)
	}
	for key := range w.counted {
		w.uncount(key)
	}
	w.rt.Hub.Disconnect(w.client)
	_ = w.conn.CloseNow()
}

func (w *wsConn) readLoop(ctx context.Context) {
	for {
		typ, data, err := w.conn.Read(ctx)
		if err != nil {
			return
		}
		w.lastActivity.Store(time.Now().UnixNano())
		if typ != websocket.MessageText {
			w.client.Send(errorFrame(pusherReconnect, "malformed message: binary frames are not supported"))
			continue
		}
		w.handle(ctx, data)
	}
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

// fail asks the writer to send a pusher:error with code and close.
func (w *wsConn) fail(code int, msg string) {
	select {
	case w.closeReq <- closeRequest{code, msg}:
	default:
	}
}

func (w *wsConn) writeLoop(ctx context.Context) {
	activity := time.NewTimer(w.rt.ActivityTimeout)
	idle := time.NewTimer(w.rt.IdleTimeout)
	defer activity.Stop()
	defer idle.Stop()
	var pingAt time.Time
	for {
		select {
		case <-w.client.Done():
			switch r := w.client.Reason(); r {
			case engine.ReasonClosed:
			case engine.ReasonTerminated:
				w.close(ctx, pusherUnauthorized, string(r))
			default:
				w.close(ctx, pusherReconnect, string(r))
			}
			return
		default:
		}
		select {
		case <-ctx.Done():
			return
		case <-w.client.Done():
			continue
		case req := <-w.closeReq:
			w.close(ctx, req.code, req.msg)
			return
		case f := <-w.client.Frames():
			if !w.write(ctx, f.Encoded(encPusher, renderPusher)) {
				return
			}
		case <-activity.C:
			if !w.checkActivity(ctx, activity, &pingAt) {
				return
			}
		case <-idle.C:
			if !w.checkIdle(ctx, idle) {
				return
			}
		}
	}
}

// checkIdle closes with 4202 a socket that has had no subscription for
// IdleTimeout, including one that never subscribed.
func (w *wsConn) checkIdle(ctx context.Context, t *time.Timer) bool {
	if len(w.client.Channels()) > 0 {
		w.lastSubs.Store(0)
		t.Reset(w.rt.IdleTimeout)
		return true
	}
	since := w.lastSubs.Load()
	if since == 0 {
		w.lastSubs.Store(time.Now().UnixNano())
		t.Reset(w.rt.IdleTimeout)
		return true
	}
	if left := w.rt.IdleTimeout - time.Since(time.Unix(0, since)); left > 0 {
		t.Reset(left)
		return true
	}
	w.close(ctx, pusherInactive, "closed after inactivity: no subscription")
	return false
}

// checkActivity pings a silent client and closes one that did not answer.
func (w *wsConn) checkActivity(ctx context.Context, t *time.Timer, pingAt *time.Time) bool {
	last := time.Unix(0, w.lastActivity.Load())
	if !pingAt.IsZero() {
		if !last.After(*pingAt) {
			w.close(ctx, pusherPongTimeout, "pong reply not received")
			return false
		}
		*pingAt = time.Time{}
	}
	if silent := time.Since(last); silent < w.rt.ActivityTimeout {
		t.Reset(w.rt.ActivityTimeout - silent)
		return true
	}
	*pingAt = time.Now()
	t.Reset(w.rt.PongTimeout)
	return w.write(ctx, renderPusher(control(evPing, "", struct{}{})))
}

func (w *wsConn) write(ctx context.Context, b []byte) bool {
	wctx, cancel := context.WithTimeout(ctx, w.rt.WriteTimeout)
	defer cancel()
	return w.conn.Write(wctx, websocket.MessageText, b) == nil
}

// close sends a pusher:error and closes the socket with its code.
func (w *wsConn) close(ctx context.Context, code int, msg string) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	err := w.conn.Write(wctx, websocket.MessageText, renderPusher(errorFrame(code, msg)))
	cancel()
	if err != nil {
		_ = w.conn.CloseNow()
		return
	}
	_ = w.conn.Close(websocket.StatusCode(code), closeReason(msg))
}
