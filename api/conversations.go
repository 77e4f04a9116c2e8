package api

import (
	"net/http"
	"parley/engine"

	"github.com/labstack/echo/v4"
)

type createConversationRequest struct {
	ParticipantIDs []string `json:"participant_ids"`
	Title          string   `json:"title"`
}

func (s *Server) createConversation(c echo.Context) error {
	var req createConversationRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	d, created, err := s.svc.CreateConversation(c.Request().Context(), identity(c).UserID, req.ParticipantIDs, req.Title)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, d)
}

func (s *Server) listConversations(c echo.Context) error {
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	q := engine.ListQuery{Cursor: c.QueryParam("cursor"), Limit: limit}
	switch c.QueryParam("archived") {
	case "", "false":
	case "true":
		q.Archived = true
	default:
		return engine.Errorf(engine.KindMalformed, "invalid_archived", "archived must be true or false")
	}
	list, err := s.svc.ListConversations(c.Request().Context(), identity(c).UserID, q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}

func (s *Server) updateSettings(c echo.Context) error {
	if s.sendLimit != nil && !s.sendLimit.allow(identity(c).UserID) {
		return errRateLimited
	}
	var req engine.SettingsPatch
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	sum, err := s.svc.UpdateSettings(c.Request().Context(), identity(c).UserID, c.Param("id"), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sum)
}

func (s *Server) getConversation(c echo.Context) error {
	d, err := s.svc.Conversation(c.Request().Context(), identity(c).UserID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

type addParticipantsRequest struct {
	UserIDs []string `json:"user_ids"`
}

func (s *Server) addParticipants(c echo.Context) error {
	var req addParticipantsRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	d, err := s.svc.AddParticipants(c.Request().Context(), identity(c).UserID, c.Param("id"), req.UserIDs)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (s *Server) removeParticipant(c echo.Context) error {
	if err := s.svc.RemoveParticipant(c.Request().Context(), identity(c).UserID, c.Param("id"), c.Param("user_id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
