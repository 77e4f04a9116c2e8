package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// pusherFrame is a Pusher protocol 7 frame; from the server, Data is a
// JSON-encoded string.
type pusherFrame struct {
	Event   string          `json:"event"`
	Channel string          `json:"channel,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// dataString decodes a server frame's data (a JSON string) to its text.
func (f pusherFrame) dataString() string {
	var s string
	if json.Unmarshal(f.Data, &s) == nil {
		return s
	}
	return string(f.Data)
}

// pusherConn is a minimal Pusher protocol 7 client, as pusher-js speaks it.
type pusherConn struct {
	ws       *websocket.Conn
	socketID string
	onFrame  func(pusherFrame) // when set, sees every frame read
}

// appKey reads the Pusher key from the server's /api/config.
func (s *benchServer) appKey(tok string) (string, error) {
	var cfg struct {
		Realtime bool   `json:"realtime"`
		Key      string `json:"key"`
	}
	if _, err := s.do("GET", "/api/config", tok, nil, &cfg); err != nil {
		return "", err
	}
	if !cfg.Realtime || cfg.Key == "" {
		return "", fmt.Errorf("the server has realtime off")
	}
	return cfg.Key, nil
}

// dialPusher opens a socket and reads the connection_established frame.
func (s *benchServer) dialPusher(ctx context.Context, key string) (*pusherConn, error) {
	u := strings.Replace(s.URL, "http", "ws", 1) + "/app/" + url.PathEscape(key) + "?protocol=7&client=parley-bench&version=1"
	ws, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(1 << 20)
	c := &pusherConn{ws: ws}
	f, err := c.read(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, err
	}
	if f.Event != "pusher:connection_established" {
		ws.CloseNow()
		return nil, fmt.Errorf("first frame %q", f.Event)
	}
	var est struct {
		SocketID string `json:"socket_id"`
	}
	if err := json.Unmarshal([]byte(f.dataString()), &est); err != nil || est.SocketID == "" {
		ws.CloseNow()
		return nil, fmt.Errorf("bad connection_established: %s", f.Data)
	}
	c.socketID = est.SocketID
	return c, nil
}

func (c *pusherConn) read(ctx context.Context) (pusherFrame, error) {
	_, raw, err := c.ws.Read(ctx)
	if err != nil {
		return pusherFrame{}, err
	}
	return c.decode(raw)
}

// decode parses one frame and shows it to onFrame.
func (c *pusherConn) decode(raw []byte) (pusherFrame, error) {
	var f pusherFrame
	err := json.Unmarshal(raw, &f)
	if err == nil && c.onFrame != nil {
		c.onFrame(f)
	}
	return f, err
}

func (c *pusherConn) write(ctx context.Context, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.ws.Write(ctx, websocket.MessageText, raw)
}

// subscribe signs the channel with /broadcasting/auth as tok's user and
// subscribes, waiting for subscription_succeeded.
func (s *benchServer) subscribe(ctx context.Context, c *pusherConn, tok, channel string) error {
	form := url.Values{"socket_id": {c.socketID}, "channel_name": {channel}}
	req, err := http.NewRequestWithContext(ctx, "POST", s.URL+"/broadcasting/auth", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("auth %s: %d %s", channel, resp.StatusCode, raw)
	}
	var a struct {
		Auth        string `json:"auth"`
		ChannelData string `json:"channel_data"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return err
	}
	data := map[string]string{"channel": channel, "auth": a.Auth}
	if a.ChannelData != "" { // pusher-js sends back whatever the auth endpoint returned
		data["channel_data"] = a.ChannelData
	}
	if err := c.write(ctx, map[string]any{"event": "pusher:subscribe", "data": data}); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		f, err := c.read(wctx)
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", channel, err)
		}
		switch {
		case f.Event == "pusher_internal:subscription_succeeded" && f.Channel == channel:
			return nil
		case f.Event == "pusher:subscription_error" && f.Channel == channel, f.Event == "pusher:error":
			return fmt.Errorf("subscribe %s: %s %s", channel, f.Event, f.dataString())
		}
	}
}

// clientTempID digs the client_temp_id out of a message.sent payload.
func clientTempID(data string) string {
	var p struct {
		ClientTempID string `json:"client_temp_id"`
		Data         struct {
			ClientTempID string `json:"client_temp_id"`
		} `json:"data"`
	}
	if json.Unmarshal([]byte(data), &p) != nil {
		return ""
	}
	if p.ClientTempID != "" {
		return p.ClientTempID
	}
	return p.Data.ClientTempID
}
