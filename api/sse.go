package api

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"parley/engine"
	"parley/internal/realtime"
)

// encSSE is the hub encoding slot of SSE events.
const encSSE realtime.Encoding = 1

// Names of the stream's own events.
const (
	sseReady = "ready" // caught up: id is the checkpoint the stream starts after
	sseReset = "reset" // missed too much: reload over REST, then carry on
)

// stream serves GET /api/stream: the caller's conversation events (id: the
// stream sequence) and conversation.updated, as Server-Sent Events. With
// Last-Event-ID (or ?last_event_id=) it first replays what was missed.
func (s *Server) stream(c echo.Context) error {
	rt := s.rt
	if rt == nil {
		return errRealtimeOff
	}
	last, resume, err := lastEventID(c.Request())
	if err != nil {
		return err
	}
	user := identity(c).UserID
	client, err := rt.Hub.Connect()
	if err != nil {
		return err
	}
	defer rt.Hub.Disconnect(client)
	if err := rt.Hub.BindUser(client, user); err != nil {
		return err
	}
	// Subscribe before reading the checkpoint: every event above it then
	// arrives live, everything at or below it comes from the replay.
	if err := rt.Hub.Subscribe(client, engine.InboxChannel(user), nil); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if resume {
		// A cursor from a node further ahead: catch up first, so the
		// stream never goes back to events the client already has.
		s.svc.AwaitApplied(ctx, last, 2*time.Second)
	}
	upTo := s.svc.ReplayCheckpoint()
	var rep *engine.Replay
	if resume {
		rep, err = s.svc.Replay(ctx, rt.Changes, user, last, upTo, rt.Replay)
		if err != nil && !errors.Is(err, engine.ErrUnknownCursor) {
			return err
		}
	}
	w := newSSEWriter(c.Response(), rt.WriteTimeout)
	if !w.start() || !w.replay(rep, upTo, resume) {
		return nil
	}
	return w.live(ctx, client, upTo, rt.SSEKeepAlive)
}

// lastEventID reads the resume cursor from Last-Event-ID or ?last_event_id=.
func lastEventID(r *http.Request) (uint64, bool, error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("last_event_id")
	}
	if v = strings.TrimSpace(v); v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false, engine.ErrUnknownCursor
	}
	return n, true, nil
}

// sseWriter writes events with a deadline on each write.
type sseWriter struct {
	w       *echo.Response
	rc      *http.ResponseController
	timeout time.Duration
	buf     bytes.Buffer
}

func newSSEWriter(w *echo.Response, timeout time.Duration) *sseWriter {
	return &sseWriter{w: w, rc: http.NewResponseController(w), timeout: timeout}
}

func (w *sseWriter) start() bool {
	h := w.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.w.WriteHeader(http.StatusOK)
	w.buf.WriteString("retry: 2000\n: parley stream\n\n")
	return w.flush()
}

// replay writes a reconnect's missed events, then reset (when the replay
// was incomplete or the cursor unknown) and ready.
func (w *sseWriter) replay(rep *engine.Replay, upTo uint64, resume bool) bool {
	if rep != nil {
		for _, it := range rep.Items {
			if it.Update != nil {
				w.event(0, engine.EventConversationUpdated, it.Update)
			} else {
				w.event(it.Event.Seq, engine.RealtimeName(it.Event.Type), it.Event)
			}
			if w.buf.Len() > 64<<10 && !w.flush() {
				return false
			}
		}
	}
	if resume && (rep == nil || !rep.Complete) {
		w.event(upTo, sseReset, map[string]any{"reason": "missed too much or unknown cursor; reload over REST", "seq": upTo})
	}
	w.event(upTo, sseReady, map[string]any{"seq": upTo})
	return w.flush()
}

// live forwards hub frames until the client goes or is dropped. Events at
// or below upTo were replayed (or precede the stream) and are skipped.
func (w *sseWriter) live(ctx context.Context, client *realtime.Client, upTo uint64, keepAlive time.Duration) error {
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	wake := make(chan struct{}, 1)
	client.Notify(func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-client.Done():
			if r := client.Reason(); r != realtime.ReasonClosed {
				w.buf.WriteString(": disconnected: " + string(r) + "\n\n")
				w.flush()
			}
			return nil
		case <-wake:
			for f := client.Next(); f != nil; f = client.Next() {
				if f.Seq == 0 || f.Seq > upTo {
					w.buf.Write(f.Encoded(encSSE, renderSSE))
				}
				if w.buf.Len() > 64<<10 && !w.flush() {
					return nil
				}
			}
		case <-tick.C:
			w.buf.WriteString(": keep-alive\n\n")
		}
		if !w.flush() {
			return nil
		}
	}
}

func (w *sseWriter) event(id uint64, name string, v any) {
	data, err := engine.Marshal(v)
	if err != nil {
		return
	}
	w.buf.Write(renderSSE(&realtime.Frame{Event: name, Data: data, Seq: id}))
}

func (w *sseWriter) flush() bool {
	if w.buf.Len() == 0 {
		return true
	}
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	_, err := w.w.Write(w.buf.Bytes())
	w.buf.Reset()
	if err != nil {
		return false
	}
	return w.rc.Flush() == nil
}

// renderSSE renders a hub frame as one SSE event; only log events carry an
// id, so Last-Event-ID is always a stream sequence.
func renderSSE(m *realtime.Frame) []byte {
	var b bytes.Buffer
	if m.Seq != 0 {
		b.WriteString("id: " + strconv.FormatUint(m.Seq, 10) + "\n")
	}
	b.WriteString("event: " + m.Event + "\ndata: ")
	b.Write(m.Data)
	b.WriteString("\n\n")
	return b.Bytes()
}
