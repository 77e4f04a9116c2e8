package api

import (
	"net/http"

	"parley/internal/pusher"

	"github.com/labstack/echo/v4"
)

// cors answers preflights and adds CORS headers for allowed cross-origin
// callers of the realtime endpoints (/broadcasting/auth, /api/stream,
// /api/config), and refuses disallowed browser origins.
func (s *Server) cors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		origin := r.Header.Get("Origin")
		if origin != "" {
			if !s.origins.Allowed(r) {
				return pusher.ErrOriginForbidden
			}
			h := c.Response().Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			h := c.Response().Header()
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID, X-Socket-ID")
			h.Set("Access-Control-Max-Age", "600")
			return c.NoContent(http.StatusNoContent)
		}
		return next(c)
	}
}

func noContent(c echo.Context) error { return c.NoContent(http.StatusNoContent) }
