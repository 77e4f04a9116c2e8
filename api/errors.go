package api

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"parley/engine"
	"parley/internal/pusher"
	"parley/internal/realtime"
)

// statusOf maps an error kind to its HTTP status.
var statusOf = map[engine.Kind]int{
	engine.KindInternal:     http.StatusInternalServerError,
	engine.KindMalformed:    http.StatusBadRequest,
	engine.KindUnauthorized: http.StatusUnauthorized,
	engine.KindForbidden:    http.StatusForbidden,
	engine.KindNotFound:     http.StatusNotFound,
	engine.KindConflict:     http.StatusConflict,
	engine.KindTooLarge:     http.StatusRequestEntityTooLarge,
	engine.KindInvalid:      http.StatusUnprocessableEntity,
	engine.KindRateLimited:  http.StatusTooManyRequests,
	engine.KindUnavailable:  http.StatusServiceUnavailable,
	engine.KindStorageFull:  http.StatusInsufficientStorage,
}

// retryable are the 503 codes of a passing state, answered with
// Retry-After; the others (a feature turned off) are not.
var retryable = map[string]bool{
	engine.ErrNotProjected.Code: true, engine.ErrCatchingUp.Code: true, engine.ErrLogUnavailable.Code: true,
	realtime.ErrOverCapacity.Code: true, pusher.ErrPublish.Code: true,
}

// ErrorBody is the JSON shape of every error answer.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// handleError is the one place errors become answers. Internal errors are
// logged and never shown to clients.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, code, msg := http.StatusInternalServerError, "internal", "internal error"
	var he *echo.HTTPError
	switch e := engine.AsError(err); {
	case e != nil:
		status, code, msg = statusOf[e.Kind], e.Code, e.Message
	case errors.As(err, &he):
		status = he.Code
		code, msg = httpCode(he.Code), http.StatusText(he.Code)
	case errors.Is(err, c.Request().Context().Err()) && c.Request().Context().Err() != nil:
		status, code, msg = 499, "canceled", "request canceled"
	default:
		s.logger.Error("request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
	}
	switch {
	case status == http.StatusTooManyRequests || (status == http.StatusServiceUnavailable && retryable[code]):
		c.Response().Header().Set("Retry-After", "1")
	case status == http.StatusInsufficientStorage:
		c.Response().Header().Set("Retry-After", "30") // space comes back in minutes, not seconds
	}
	var body ErrorBody
	body.Error.Code, body.Error.Message = code, msg
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, body)
}

func httpCode(status int) string {
	switch status {
	case http.StatusNotFound:
		return "route_not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusBadRequest:
		return "bad_request"
	}
	return "http_" + http.StatusText(status)
}
