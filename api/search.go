package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"parley/engine"
)

func (s *Server) search(c echo.Context) error {
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	page, err := s.svc.Search(c.Request().Context(), identity(c).UserID, engine.SearchQuery{
		Text: c.QueryParam("q"), ConversationID: c.QueryParam("conversation_id"), Before: c.QueryParam("before"),
		Cursor: c.QueryParam("cursor"), Limit: limit,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}
