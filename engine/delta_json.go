package engine

import (
	"slices"
	"strconv"

	json "github.com/goccy/go-json"
)

// encodeAnswer encodes v as the API's answers are encoded: like
// encoding/json, HTML characters escaped.
func encodeAnswer(v any) ([]byte, error) { return json.Marshal(v) }

// MarshalJSON writes the delta exactly as encoding/json writes the struct,
// but takes each event's JSON from the memory of recent events where it was
// kept: a reconnect's delta then encodes only its summary, not its 100
// events.
func (d *Delta) MarshalJSON() ([]byte, error) { return d.AppendJSON(nil) }

// AppendJSON appends what MarshalJSON writes to buf (which callers may
// reuse between answers).
func (d *Delta) AppendJSON(buf []byte) ([]byte, error) {
	size := 256
	for _, raw := range d.encoded {
		size += len(raw) + 1
	}
	buf = slices.Grow(buf, size)
	buf = append(buf, `{"events":[`...)
	for i := range d.Events {
		if i > 0 {
			buf = append(buf, ',')
		}
		if i < len(d.encoded) && d.encoded[i] != nil {
			buf = append(buf, d.encoded[i]...)
			continue
		}
		raw, err := encodeAnswer(d.Events[i])
		if err != nil {
			return nil, err
		}
		buf = append(buf, raw...)
	}
	conv, err := encodeAnswer(d.Conversation)
	if err != nil {
		return nil, err
	}
	sum, err := encodeAnswer(d.Summary)
	if err != nil {
		return nil, err
	}
	buf = append(buf, `],"conversation":`...)
	buf = append(buf, conv...)
	buf = append(buf, `,"summary":`...)
	buf = append(buf, sum...)
	buf = append(buf, `,"has_more":`...)
	buf = strconv.AppendBool(buf, d.HasMore)
	buf = append(buf, `,"last_seq":`...)
	buf = strconv.AppendUint(buf, d.LastSeq, 10)
	return append(buf, '}'), nil
}
