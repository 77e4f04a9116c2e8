package pusher

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"parley/internal/pusher/apps"
	"parley/internal/realtime"
)

// wsUpgrader upgrades Pusher WebSockets. An idle socket keeps only the
// small read buffer: write buffers come from a pool for the time of a write,
// and the handshake's 4 KiB net/http buffers are let go.
var wsUpgrader = websocket.Upgrader{
	// Zero: the library reads through the buffer wsHijacker hands it.
	ReadBufferSize:  0,
	WriteBufferSize: 4096,
	WriteBufferPool: &sync.Pool{},
	// The Origin is checked before upgrading, against Parley's own policy.
	CheckOrigin: func(*http.Request) bool { return true },
}

// wsReadBuffer is each socket's read buffer. Pusher client frames are
// small; a larger one is read in several pieces. It must stay over 256
// bytes: gorilla/websocket reads through the hijacked reader (whose
// Buffered the reader asks before it parks a socket) only then, and
// otherwise through a buffer of its own that the reader cannot see
// (TestRealtimeFramesInOneSegment).
const wsReadBuffer = 512

// wsHijacker gives the WebSocket library a read buffer of wsReadBuffer
// bytes over the hijacked connection (with ReadBufferSize 0 it reads
// through the hijacked reader), so that the socket's reader can tell
// whether a frame is already buffered before it waits on the connection.
type wsHijacker struct {
	http.ResponseWriter
	br *bufio.Reader
	bc *batchConn
}

// Hijack hijacks the connection and swaps in the socket's read buffer;
// a client that sent data before the handshake keeps net/http's reader,
// and the library refuses it.
func (h *wsHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		return conn, brw, err
	}
	h.bc = &batchConn{Conn: conn}
	h.br = bufio.NewReaderSize(h.bc, wsReadBuffer)
	return h.bc, bufio.NewReadWriter(h.br, brw.Writer), nil
}

// ServeWebSocket serves GET /app/{key}: the Pusher protocol 7 WebSocket.
// It upgrades, checks and registers the socket, then hands it to its own
// goroutine (wsConn.run) and returns, so the request, its headers and
// net/http's per-connection state are not kept for the socket's life. An
// error is returned only before the upgrade, for the caller to answer.
func (s *Server) ServeWebSocket(rw http.ResponseWriter, r *http.Request, key string) error {
	rt := s.rt
	if !s.origins.Allowed(r) {
		return ErrOriginForbidden
	}
	hj := &wsHijacker{ResponseWriter: rw}
	conn, err := wsUpgrader.Upgrade(hj, r, nil)
	if err != nil {
		return nil // Upgrade has answered the request
	}
	conn.SetReadLimit(int64(rt.MaxMessageBytes))
	if !s.wsEnter() {
		refuse(conn, pusherReconnect, "server shutting down; reconnect")
		return nil
	}
	w, code, msg := s.admit(r, key, conn)
	if w == nil {
		defer s.wsConns.Done()
		refuse(conn, code, msg)
		return nil
	}
	w.br, w.bc = hj.br, hj.bc
	if sc, ok := conn.NetConn().(syscall.Conn); ok {
		w.raw, _ = sc.SyscallConn()
	}
	s.sweeperOnce.Do(func() {
		s.poller = newWSPoller()
		go s.sweeper.run(s.closing)
	})
	w.poller = s.poller
	go w.run()
	return nil
}

// wsEnter counts a socket in wsConns, unless CloseRealtime has started
// waiting for them (an Add then would race with its Wait).
func (s *Server) wsEnter() bool {
	s.wsMu.RLock()
	defer s.wsMu.RUnlock()
	if s.wsClosed {
		return false
	}
	s.wsConns.Add(1)
	return true
}

// admit checks the protocol version, the app and the limits, and returns
// the socket's wsConn, or the pusher:error code and message to refuse it.
func (s *Server) admit(r *http.Request, key string, conn *websocket.Conn) (*wsConn, int, string) {
	rt := s.rt
	switch proto := r.URL.Query().Get("protocol"); {
	case proto == "":
		return nil, pusherNoProtocol, "no protocol version supplied; connect with ?protocol=7"
	case proto != pusherProtocol:
		return nil, pusherUnsupportedProto, fmt.Sprintf("unsupported protocol version %q; this server speaks 7", proto)
	}
	app := rt.Apps.ByKey(key)
	if app == nil {
		return nil, pusherAppNotFound, "app key not found in this cluster"
	}
	ip := capKey(s.clientIP(r))
	if !s.perIP.acquire(ip, rt.MaxConnectionsPerIP) {
		return nil, pusherOverCapacity, "over capacity: too many connections from this address; try again later"
	}
	ns := appNamespace(app)
	client, err := rt.Hub.ConnectApp(ns)
	if err != nil {
		s.perIP.release(ip)
		return nil, pusherOverCapacity, "over capacity; try again later"
	}
	return &wsConn{s: s, rt: rt, app: app, ns: ns, ip: ip, conn: conn, client: client}, 0, ""
}

// appNamespace is the hub namespace of an app's channels: "" for the
// messaging app, whose channel keys are their names, else the app id.
func appNamespace(app *apps.App) string {
	if app.Messaging {
		return ""
	}
	return app.ID
}

// refuse sends a pusher:error and closes with the same code, as Pusher does
// for a connection it will not serve, then waits briefly for the client's
// close frame before dropping the connection.
func refuse(conn *websocket.Conn, code int, msg string) {
	defer conn.NetConn().Close()
	if !closeWith(conn, code, msg) {
		return
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		if _, _, err := conn.NextReader(); err != nil {
			return
		}
	}
}

// closeReason fits a close reason into the 123 bytes a close frame allows.
func closeReason(msg string) string {
	if len(msg) > 120 {
		return msg[:120]
	}
	return msg
}

// Close drops every realtime client (they reconnect elsewhere) and
// waits, until ctx ends, for the sockets to close cleanly; then it drops
// the sockets still open (a client that does not answer the close) and
// waits up to wsCloseWait more for their goroutines. Call it before
// shutting the HTTP server down, which does not wait for them.
func (s *Server) Close(ctx context.Context) {
	s.wsMu.Lock()
	s.wsClosed = true
	s.wsMu.Unlock()
	if s.rt != nil {
		s.rt.Hub.Close()
	}
	done := make(chan struct{})
	go func() { s.wsConns.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.stop()
		if s.sweeper != nil {
			s.sweeper.closeAll()
		}
		t := time.NewTimer(wsCloseWait)
		select {
		case <-done:
		case <-t.C:
			s.logger.Warn("realtime shutdown: sockets still open", "wait", wsCloseWait)
		}
		t.Stop()
	}
	s.stop()
	if s.writers != nil {
		s.writers.close()
	}
	s.sweeperOnce.Do(func() {}) // no socket starts the poller from now on
	s.poller.close()
}

// pusherCode maps a hub error to the Pusher error code a socket receives.
func pusherCode(err error) int {
	switch {
	case errors.Is(err, realtime.ErrOverQuota):
		return pusherOverQuota
	case errors.Is(err, realtime.ErrOverCapacity):
		return pusherOverCapacity
	}
	return pusherReconnect
}
