package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"parley/engine"
	"parley/internal/apps"
)

// websocket serves GET /app/{key}: the Pusher protocol 7 WebSocket.
func (s *Server) websocket(c echo.Context) error {
	rt := s.rt
	if rt == nil {
		return errRealtimeOff
	}
	r := c.Request()
	if !s.origins.allowed(r) {
		return errOriginForbidden
	}
	conn, err := websocket.Accept(c.Response(), r, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // the Origin was checked above, against Parley's own policy
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		return nil // Accept has answered the request
	}
	s.wsConns.Add(1)
	defer s.wsConns.Done()
	conn.SetReadLimit(int64(rt.MaxMessageBytes))
	ctx, cancel := context.WithCancel(s.closing)
	defer cancel()
	stop := context.AfterFunc(r.Context(), cancel)
	defer stop()

	switch proto := r.URL.Query().Get("protocol"); {
	case proto == "":
		refuse(ctx, conn, pusherNoProtocol, "no protocol version supplied; connect with ?protocol=7")
		return nil
	case proto != pusherProtocol:
		refuse(ctx, conn, pusherUnsupportedProto, fmt.Sprintf("unsupported protocol version %q; this server speaks 7", proto))
		return nil
	}
	app := rt.Apps.ByKey(c.Param("key"))
	if app == nil {
		refuse(ctx, conn, pusherAppNotFound, "app key not found in this cluster")
		return nil
	}
	ip := s.clientIP(r)
	if !s.perIP.acquire(ip, rt.MaxConnectionsPerIP) {
		refuse(ctx, conn, pusherOverCapacity, "over capacity: too many connections from this address; try again later")
		return nil
	}
	defer s.perIP.release(ip)
	ns := appNamespace(app)
	client, err := rt.Hub.ConnectApp(ns)
	if err != nil {
		refuse(ctx, conn, pusherOverCapacity, "over capacity; try again later")
		return nil
	}
	w := &wsConn{s: s, rt: rt, app: app, ns: ns, conn: conn, client: client, presence: map[string]bool{},
		counted:  map[string]bool{},
		limiter:  rate.NewLimiter(rate.Limit(rt.ClientEventsPerSecond), rt.ClientEventBurst),
		closeReq: make(chan closeRequest, 1)}
	if rt.Occupancy != nil {
		rt.Occupancy.Add(engine.ConnectionsKey(ns), 1)
		defer rt.Occupancy.Add(engine.ConnectionsKey(ns), -1)
	}
	w.run(ctx)
	return nil
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
// for a connection it will not serve.
func refuse(ctx context.Context, conn *websocket.Conn, code int, msg string) {
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_ = conn.Write(wctx, websocket.MessageText, renderPusher(errorFrame(code, msg)))
	_ = conn.Close(websocket.StatusCode(code), closeReason(msg))
}

// closeReason fits a close reason into the 123 bytes a close frame allows.
func closeReason(msg string) string {
	if len(msg) > 120 {
		return msg[:120]
	}
	return msg
}

// CloseRealtime drops every realtime client (they reconnect elsewhere) and
// waits, until ctx ends, for the WebSocket handlers to finish; call it
// before shutting the HTTP server down, which does not wait for them.
func (s *Server) CloseRealtime(ctx context.Context) {
	if s.rt != nil {
		s.rt.Hub.Close()
	}
	done := make(chan struct{})
	go func() { s.wsConns.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	s.stopRealtime()
}

// pusherCode maps a hub error to the Pusher error code a socket receives.
func pusherCode(err error) int {
	switch {
	case errors.Is(err, engine.ErrOverQuota):
		return pusherOverQuota
	case errors.Is(err, engine.ErrOverCapacity):
		return pusherOverCapacity
	}
	return pusherReconnect
}
