package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"parley/engine"
)

type heartbeatRequest struct {
	ConversationID string `json:"conversation_id"`
}

// HeartbeatResponse says how long the heartbeat keeps the caller online.
type HeartbeatResponse struct {
	Online         bool   `json:"online"`
	TTLSeconds     int    `json:"ttl_seconds"`
	ConversationID string `json:"conversation_id,omitempty"`
}

// heartbeat serves POST /api/messages/presence/heartbeat: the caller is
// online (and, with conversation_id, viewing that conversation) for one
// presence TTL, on every node; without another heartbeat or a socket on
// presence-messaging they go offline when it expires.
func (s *Server) heartbeat(c echo.Context) error {
	if s.rt == nil {
		return errRealtimeOff
	}
	var req heartbeatRequest
	if err := decodeOptionalJSON(c, &req); err != nil {
		return err
	}
	ctx, id := c.Request().Context(), identity(c)
	if req.ConversationID != "" {
		ok, err := s.svc.IsParticipant(ctx, req.ConversationID, id.UserID)
		if err != nil {
			return err
		}
		if !ok {
			return engine.ErrConversationNotFound
		}
	}
	if !s.heartbeatLimit.allow(id.UserID) {
		return errRateLimited
	}
	if err := s.rt.Presence.Heartbeat(ctx, id.UserID, userInfo(id), req.ConversationID); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, HeartbeatResponse{Online: true, TTLSeconds: int(s.rt.Presence.TTL() / time.Second), ConversationID: req.ConversationID})
}
