package api

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"parley/engine"
)

func (s *Server) replies(c echo.Context) error {
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	page, err := s.svc.Replies(c.Request().Context(), identity(c).UserID, c.Param("conversation_id"), c.Param("message_id"),
		c.QueryParam("before_id"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

func (s *Server) react(c echo.Context) error   { return s.setReaction(c, true) }
func (s *Server) unreact(c echo.Context) error { return s.setReaction(c, false) }

// setReaction puts or takes back the caller's reaction named by the path's
// last segment (percent-encoded UTF-8) and answers the message.
func (s *Server) setReaction(c echo.Context, on bool) error {
	if s.sendLimit != nil && !s.sendLimit.allow(identity(c).UserID) {
		return errRateLimited
	}
	// The router matched the decoded path, unless decoding it would have
	// changed its segments (an encoded "/"): then its values are encoded.
	emoji := c.Param("emoji")
	if c.Request().URL.RawPath != "" {
		var err error
		if emoji, err = url.PathUnescape(emoji); err != nil {
			return engine.Errorf(engine.KindInvalid, "invalid_reaction", "the reaction is not valid percent-encoded UTF-8")
		}
	}
	m, err := s.svc.React(c.Request().Context(), identity(c).UserID, c.Param("conversation_id"), c.Param("message_id"), emoji, on)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}
