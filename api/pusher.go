package api

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"parley/internal/pusher"
)

// websocket serves GET /app/{key}: the Pusher protocol 7 WebSocket
// (package pusher).
func (s *Server) websocket(c echo.Context) error {
	if s.pusher == nil {
		return errRealtimeOff
	}
	return s.pusher.ServeWebSocket(c.Response(), c.Request(), c.Param("key"))
}

// pusherRoutes mounts the Pusher server HTTP API, as Reverb serves it:
// every request is signed with the app's secret and belongs to the app its
// path names (package pusher verifies and answers).
func (s *Server) pusherRoutes() {
	e := s.echo
	e.POST("/apps/:app_id/events", s.pusherAPI((*pusher.Server).Events))
	e.POST("/apps/:app_id/batch_events", s.pusherAPI((*pusher.Server).BatchEvents))
	e.GET("/apps/:app_id/channels", s.pusherAPI((*pusher.Server).Channels))
	e.GET("/apps/:app_id/channels/:channel", s.pusherAPI((*pusher.Server).Channel))
	e.GET("/apps/:app_id/channels/:channel/users", s.pusherAPI((*pusher.Server).Users))
	e.GET("/apps/:app_id/connections", s.pusherAPI((*pusher.Server).Connections))
	e.POST("/apps/:app_id/users/:user_id/terminate_connections", s.pusherAPI((*pusher.Server).Terminate))
}

// pusherAPI adapts a Pusher HTTP API handler: verify the request, call the
// handler, answer its value as JSON (errors go to the error handler).
func (s *Server) pusherAPI(h func(*pusher.Server, *pusher.Call) (any, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.pusher == nil {
			return errRealtimeOff
		}
		call, err := s.pusher.Verify(c.Response(), c.Request(), c.Param("app_id"))
		if err != nil {
			return err
		}
		call.Param = c.Param
		out, err := h(s.pusher, call)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, out)
	}
}

// CloseRealtime drops every realtime client (they reconnect elsewhere) and
// waits, until ctx ends, for the sockets to close cleanly; then it drops
// the sockets still open and waits briefly for their goroutines. Call it
// before shutting the HTTP server down, which does not wait for them.
func (s *Server) CloseRealtime(ctx context.Context) {
	if s.pusher != nil {
		s.pusher.Close(ctx)
	}
}
