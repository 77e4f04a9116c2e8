package api

import (
	stdjson "encoding/json"
	"sync"

	json "github.com/goccy/go-json"
	"github.com/labstack/echo/v4"
)

// jsonSerializer writes answers with goccy/go-json, which encodes the same
// JSON as encoding/json (HTML-escaped, as echo's default) at about twice the
// speed; a delta or a history page is mostly encoding. Request bodies are
// not read through it: decode.go reads them strictly with encoding/json.
type jsonSerializer struct{}

// Serialize writes i as JSON.
func (jsonSerializer) Serialize(c echo.Context, i any, indent string) error {
	enc := json.NewEncoder(c.Response())
	if indent != "" {
		enc.SetIndent("", indent)
	}
	return enc.Encode(i)
}

// Deserialize reads a request body, as echo's default does.
func (jsonSerializer) Deserialize(c echo.Context, i any) error {
	return stdjson.NewDecoder(c.Request().Body).Decode(i)
}

// answerBufs reuses the buffers answers that encode themselves are written
// into (a delta of 100 events is about 50 KiB).
var answerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// putAnswerBuf returns a buffer to answerBufs unless it grew past 1 MiB, so
// one huge answer does not stay in the pool.
func putAnswerBuf(bp *[]byte) {
	if cap(*bp) <= 1<<20 {
		answerBufs.Put(bp)
	}
}
