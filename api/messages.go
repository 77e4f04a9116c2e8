package api

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"parley/engine"
)

type sendRequest struct {
	Body         string   `json:"body"`
	ClientTempID string   `json:"client_temp_id"`
	ReplyTo      string   `json:"reply_to"`
	Attachments  []string `json:"attachments"`
}

func (s *Server) send(c echo.Context) error {
	if s.sendLimit != nil && !s.sendLimit.allow(identity(c).UserID) {
		return errRateLimited
	}
	var req sendRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	m, created, err := s.svc.SendDraft(c.Request().Context(), identity(c).UserID, c.Param("conversation_id"),
		engine.Draft{Body: req.Body, ClientTempID: req.ClientTempID, ReplyTo: req.ReplyTo, Attachments: req.Attachments})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, m)
}

func (s *Server) history(c echo.Context) error {
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	page, err := s.svc.History(c.Request().Context(), identity(c).UserID, c.Param("conversation_id"), c.QueryParam("before_id"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

type editRequest struct {
	Body string `json:"body"`
}

func (s *Server) edit(c echo.Context) error {
	var req editRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	m, err := s.svc.Edit(c.Request().Context(), identity(c).UserID, c.Param("conversation_id"), c.Param("message_id"), req.Body)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

func (s *Server) deleteMessage(c echo.Context) error {
	m, err := s.svc.Delete(c.Request().Context(), identity(c).UserID, c.Param("conversation_id"), c.Param("message_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

type readRequest struct {
	MessageID string `json:"message_id"`
}

func (s *Server) markRead(c echo.Context) error {
	var req readRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	st, err := s.svc.MarkRead(c.Request().Context(), identity(c).UserID, c.Param("conversation_id"), req.MessageID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) receipts(c echo.Context) error {
	rs, err := s.svc.Receipts(c.Request().Context(), identity(c).UserID, c.Param("conversation_id"), c.Param("message_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"message_id": c.Param("message_id"), "reads": rs})
}

func (s *Server) delta(c echo.Context) error {
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	cur := engine.DeltaCursor{AfterMessageID: c.QueryParam("after_message_id")}
	if v := c.QueryParam("after_seq"); v != "" {
		seq, err := parseSeqCursor(v)
		if err != nil {
			return err
		}
		cur.AfterSeq, cur.HasSeq = seq, true
	}
	d, err := s.svc.Delta(c.Request().Context(), identity(c).UserID, c.Param("conversation_id"), cur, limit)
	if err != nil {
		return err
	}
	defer d.Release() // once the answer is written
	// The delta encodes itself (its events' JSON mostly comes ready from
	// memory), into a reused buffer; written as is, not re-read by the
	// serializer.
	bp := answerBufs.Get().(*[]byte)
	defer putAnswerBuf(bp)
	raw, err := d.AppendJSON((*bp)[:0])
	if err != nil {
		return err
	}
	*bp = append(raw, '\n')
	return c.JSONBlob(http.StatusOK, *bp)
}

// parseSeqCursor reads an after_seq cursor: a decimal stream sequence.
func parseSeqCursor(v string) (uint64, error) {
	if v == "" || len(v) > 20 {
		return 0, engine.ErrUnknownCursor
	}
	seq, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, engine.ErrUnknownCursor
	}
	return seq, nil
}
