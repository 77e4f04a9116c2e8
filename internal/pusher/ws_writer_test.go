package pusher

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsPair returns the server side of a real WebSocket over loopback TCP, as
// a wsConn with only what the writer needs, and the client side.
func wsPair(t *testing.T) (*wsConn, *websocket.Conn) {
	t.Helper()
	conns := make(chan *websocket.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		c, err := wsUpgrader.Upgrade(rw, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		conns <- c
	}))
	t.Cleanup(srv.Close)
	client, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	var server *websocket.Conn
	select {
	case server = <-conns:
	case <-time.After(10 * time.Second):
		t.Fatal("no server connection")
	}
	t.Cleanup(func() { server.NetConn().Close() })
	return &wsConn{rt: &Config{WriteTimeout: 10 * time.Second}, conn: server}, client
}

// When the library has closed the socket itself on the reader's goroutine
// (here 1009, as for a frame over the read limit), a frame or a close the
// writer sends next meets ErrCloseSent: the writer stops, but must not drop
// the connection, or the lingering reader's client gets a reset instead of
// the close.
func TestWSWriteAfterLibraryCloseKeepsConnection(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(w *wsConn)
	}{
		{"frame", func(w *wsConn) { w.write([]byte(`{"event":"x"}`)) }},
		{"close", func(w *wsConn) { w.close(pusherPongTimeout, "pong reply not received") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, client := wsPair(t)
			err := w.conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseMessageTooBig, ""), time.Now().Add(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			tc.send(w)
			if !w.finished.Load() {
				t.Error("the writer did not stop after the library's close")
			}
			if err := w.conn.NetConn().SetReadDeadline(time.Time{}); err != nil {
				t.Fatalf("the connection was dropped: %v", err)
			}
			_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _, err = client.ReadMessage()
			if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
				t.Fatalf("client read %v, want close 1009", err)
			}
		})
	}
}
