package api

import (
	"context"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"parley/engine"
	"parley/internal/realtime"
)

type typingRequest struct {
	Typing *bool `json:"typing"`
}

var errRateLimited = engine.Errorf(engine.KindRateLimited, "rate_limited", "too many requests; slow down")

// typing serves POST /api/messages/{conversation_id}/typing for clients
// without a socket: the same client-typing event a whisper makes, relayed
// over core NATS to the conversation's subscribers on every node, never
// stored.
func (s *Server) typing(c echo.Context) error {
	if s.rt == nil {
		return errRealtimeOff
	}
	var req typingRequest
	if err := decodeOptionalJSON(c, &req); err != nil {
		return err
	}
	ctx, user, conv := c.Request().Context(), identity(c).UserID, c.Param("conversation_id")
	ok, err := s.svc.IsParticipant(ctx, conv, user)
	if err != nil {
		return err
	}
	if !ok {
		return engine.ErrConversationNotFound
	}
	if !s.typingLimit.allow(user + "\x00" + conv) {
		return errRateLimited
	}
	typing := req.Typing == nil || *req.Typing
	data, err := engine.Marshal(map[string]any{"user_id": user, "conversation_id": conv, "typing": typing})
	if err != nil {
		return err
	}
	s.relay(ctx, realtime.ClientEvent{Channel: engine.ConversationChannel(conv), Event: engine.EventTyping, Data: data, UserID: user})
	return c.NoContent(http.StatusAccepted)
}

// relay sends a client event to every node (or this one without a relay).
func (s *Server) relay(ctx context.Context, ev realtime.ClientEvent) { s.pusher.Relay(ctx, ev) }

// decodeOptionalJSON is decodeJSON for a body that may be empty.
func decodeOptionalJSON(c echo.Context, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, MaxRequestBytes))
	if err != nil {
		return engine.Errorf(engine.KindTooLarge, "request_too_large", "request bodies are limited to %d bytes", MaxRequestBytes)
	}
	if len(body) == 0 {
		return nil
	}
	return decodeBody(body, v)
}
