package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"parley/engine"
)

// MaxRequestBytes bounds every request body.
const MaxRequestBytes = 64 << 10

// decodeJSON reads the request body into v: at most MaxRequestBytes, valid
// UTF-8, one JSON object, no unknown fields.
func decodeJSON(c echo.Context, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, MaxRequestBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return engine.Errorf(engine.KindTooLarge, "request_too_large", "request bodies are limited to %d bytes", MaxRequestBytes)
		}
		return engine.Errorf(engine.KindMalformed, "unreadable_body", "the request body could not be read")
	}
	return decodeBody(body, v)
}

// decodeBody is decodeJSON's pure part, kept apart for fuzzing.
func decodeBody(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return engine.Errorf(engine.KindMalformed, "malformed_json", "the request body is empty; send a JSON object")
	}
	if !utf8.Valid(body) {
		return engine.Errorf(engine.KindMalformed, "invalid_utf8", "the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return engine.Errorf(engine.KindMalformed, "invalid_type", "field %q has the wrong type", te.Field)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return engine.Errorf(engine.KindMalformed, "unknown_field", "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return engine.Errorf(engine.KindMalformed, "malformed_json", "the request body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return engine.Errorf(engine.KindMalformed, "malformed_json", "the request body holds more than one JSON value")
	}
	return nil
}

// queryInt parses an optional non-negative integer query parameter.
func queryInt(c echo.Context, name string) (int, error) {
	s := c.QueryParam(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, engine.Errorf(engine.KindMalformed, "invalid_"+name, "%s must be a non-negative integer", name)
	}
	return n, nil
}
