package api

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"parley/engine"
)

var errNotificationsOff = engine.Errorf(engine.KindUnavailable, "notifications_unavailable", "notifications are not available on this server")

// notificationRoutes registers the offline-fallback notification routes on
// the authenticated /api group.
func (s *Server) notificationRoutes(api *authGroup) {
	api.GET("/notifications", s.listNotifications)
	api.POST("/notifications/read", s.markNotificationsRead)
}

// listNotifications serves GET /api/notifications?unread=&limit=&cursor=.
func (s *Server) listNotifications(c echo.Context) error {
	if s.ops.notifications == nil {
		return errNotificationsOff
	}
	unread := false
	if v := c.QueryParam("unread"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return engine.Errorf(engine.KindMalformed, "invalid_unread", "unread must be true or false")
		}
		unread = b
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	page, err := s.ops.notifications.List(c.Request().Context(), identity(c).UserID, unread, c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

type notificationsReadRequest struct {
	IDs []string `json:"ids"`
	All bool     `json:"all"`
}

// markNotificationsRead serves POST /api/notifications/read {ids} or {all:true}.
func (s *Server) markNotificationsRead(c echo.Context) error {
	if s.ops.notifications == nil {
		return errNotificationsOff
	}
	var req notificationsReadRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	st, err := s.ops.notifications.MarkRead(c.Request().Context(), identity(c).UserID, req.IDs, req.All)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}
