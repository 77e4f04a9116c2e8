package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"parley/engine"
)

// The fanout transport floor: bench fanout's closed and open loops (the same
// harness code, HTTP client and sockets, frames of the same kind and size),
// against a server that does nothing but forward. Each POST
// /api/messages/{room} is written to the room's sockets as a message.sent
// frame and answered at once: no JWT check, no log, no read model, no
// Pusher channels beyond a subscribe. Its
// latency and CPU are what this machine's loopback, Go runtime and harness
// cost by themselves, so Parley's fanout figures can be read against them.

// floorMaxSockets bounds the floor server's sockets; the harness opens
// --fanout-conversations × --subscribers of them.
const floorMaxSockets = 100000

// floorServer is the forwarding server that `parley bench --floor-server`
// runs in a child process.
type floorServer struct {
	mu      sync.Mutex
	rooms   map[string][]*floorSocket
	sockets int
	up      websocket.Upgrader
}

// floorSocket is one subscribed socket with its writer's bounded queue; a
// frame that finds the queue full is dropped, and the harness counts it lost.
type floorSocket struct {
	ws  *websocket.Conn
	out chan []byte
}

// serveFloor runs the floor server on addr until ctx ends.
func serveFloor(ctx context.Context, addr string) error {
	f := &floorServer{rooms: map[string][]*floorSocket{}, up: websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 1024}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /app/{key}", f.socket)
	mux.HandleFunc("POST /api/messages/{room}", f.send)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// socket speaks just enough Pusher for the harness's client: the
// connection_established frame, then a subscribe to
// private-conversation.<room> (unsigned) puts the socket in that room.
func (f *floorServer) socket(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	full := f.sockets >= floorMaxSockets
	if !full {
		f.sockets++
	}
	f.mu.Unlock()
	if full {
		http.Error(w, "too many sockets", http.StatusServiceUnavailable)
		return
	}
	ws, err := f.up.Upgrade(w, r, nil)
	if err != nil {
		f.mu.Lock()
		f.sockets--
		f.mu.Unlock()
		return
	}
	s := &floorSocket{ws: ws, out: make(chan []byte, 256)}
	s.out <- floorFrame("pusher:connection_established", "", map[string]any{"socket_id": "1.1", "activity_timeout": 120})
	go func() {
		for m := range s.out {
			if ws.WriteMessage(websocket.TextMessage, m) != nil {
				break
			}
		}
		ws.Close()
		for range s.out { // the reader closes it
		}
	}()
	defer close(s.out)
	var room string
	for {
		_, raw, err := ws.ReadMessage()
		if err != nil {
			break
		}
		var in struct {
			Event string `json:"event"`
			Data  struct {
				Channel string `json:"channel"`
			} `json:"data"`
		}
		if json.Unmarshal(raw, &in) != nil || in.Event != "pusher:subscribe" || room != "" {
			continue
		}
		id, ok := strings.CutPrefix(in.Data.Channel, "private-conversation.")
		if !ok {
			continue
		}
		room = id
		// In the room before the acknowledgement is queued, under the lock
		// send queues under: no send the harness makes after reading the
		// acknowledgement can miss this socket.
		f.mu.Lock()
		f.rooms[room] = append(f.rooms[room], s)
		s.out <- floorFrame("pusher_internal:subscription_succeeded", in.Data.Channel, map[string]any{})
		f.mu.Unlock()
	}
	f.mu.Lock()
	f.sockets--
	if room != "" {
		list := f.rooms[room]
		for i, x := range list {
			if x == s {
				f.rooms[room] = append(list[:i:i], list[i+1:]...)
				break
			}
		}
	}
	f.mu.Unlock()
}

// send forwards one message to its room's sockets and answers 201.
func (f *floorServer) send(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Body         string `json:"body"`
		ClientTempID string `json:"client_temp_id"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	room := r.PathValue("room")
	now := time.Now()
	// Parley's message type, so the frames and answers are about the size
	// of Parley's.
	msg := engine.Message{ID: fmt.Sprintf("%026d", now.UnixNano()), ConversationID: room, SenderID: "floor",
		Body: in.Body, ClientTempID: in.ClientTempID, Seq: uint64(now.UnixNano()), CreatedAt: now.UTC().Format(time.RFC3339Nano)}
	frame := floorFrame("message.sent", "private-conversation."+room, msg)
	f.mu.Lock()
	for _, s := range f.rooms[room] {
		select {
		case s.out <- frame:
		default:
		}
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(msg)
}

// floorFrame is a Pusher frame as Parley writes it: the event first, the
// data a JSON-encoded string.
func floorFrame(event, channel string, data any) []byte {
	inner, _ := json.Marshal(data)
	raw, _ := json.Marshal(struct {
		Event   string `json:"event"`
		Channel string `json:"channel,omitempty"`
		Data    string `json:"data"`
	}{event, channel, string(inner)})
	return raw
}

// floorDuration is the longest each floor run lasts: enough sends for a
// p99, and short enough that the standard set stays within its minutes.
const floorDuration = 3 * time.Second

// benchFloor starts the floor server in a child process, subscribes
// c.FanConvs × c.Subscribers sockets and runs fanout's closed loop (unless
// c.Senders is 0) and its open loop at c.Rate (unless 0) against it, each
// for c.Duration or floorDuration, whichever is shorter.
func benchFloor(ctx context.Context, c benchConfig, stderr io.Writer) ([]Result, error) {
	var rates []int // 0: the closed loop
	if c.Senders > 0 {
		rates = append(rates, 0)
	}
	if c.Rate > 0 {
		rates = append(rates, c.Rate)
	}
	if len(rates) == 0 || c.FanConvs <= 0 || c.Subscribers <= 0 {
		return nil, nil
	}
	s, err := startFloorServer(ctx, stderr)
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	sockets := make([]int, c.FanConvs)
	for k := range sockets {
		sockets[k] = c.Subscribers
	}
	rig, err := newFloorRig(ctx, s, "floor", sockets)
	if err != nil {
		return nil, err
	}
	defer rig.close()
	c.Duration = min(c.Duration, floorDuration)
	var out []Result
	for _, rate := range rates {
		res, err := rig.run(ctx, c, rate)
		if err != nil {
			return nil, err
		}
		res.Workload = "ceiling"
		res.Params["what"] = "fanout_transport_floor"
		out = append(out, res)
	}
	return out, nil
}

// startFloorServer starts the floor server in a child process (its CPU time
// is its own) and waits until it answers.
func startFloorServer(ctx context.Context, stderr io.Writer) (*benchServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	s := &benchServer{URL: "http://" + addr, Secret: []byte("floor"), client: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}}}
	s.cmd = exec.Command(exe, "bench", "--floor-server", addr)
	s.cmd.Stdout, s.cmd.Stderr = stderr, stderr
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	s.pid = s.cmd.Process.Pid
	if err := s.waitHealthy(ctx, 30*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// newFloorRig makes rooms on the floor server, prefix0, prefix1, ..., room k
// with sockets[k] subscribed sockets, each read by the rig.
func newFloorRig(ctx context.Context, s *benchServer, prefix string, sockets []int) (*fanoutRig, error) {
	rctx, cancel := context.WithCancel(context.Background())
	rig := &fanoutRig{s: s, cancel: cancel}
	sctx, scancel := context.WithTimeout(ctx, time.Minute) // the sockets' setup
	defer scancel()
	for k, n := range sockets {
		rig.rooms = append(rig.rooms, fanoutRoom{id: fmt.Sprint(prefix, k), sender: "floor"})
		for range n {
			pc, err := s.dialPusher(sctx, "floor")
			if err != nil {
				rig.close()
				return nil, err
			}
			rig.conns = append(rig.conns, pc)
			channel := "private-conversation." + rig.rooms[k].id
			if err := pc.write(sctx, map[string]any{"event": "pusher:subscribe", "data": map[string]any{"channel": channel}}); err != nil {
				rig.close()
				return nil, err
			}
			f, err := pc.read(sctx)
			if err != nil {
				rig.close()
				return nil, fmt.Errorf("floor subscribe: %w", err)
			}
			if f.Event != "pusher_internal:subscription_succeeded" {
				rig.close()
				return nil, fmt.Errorf("floor subscribe: got %q", f.Event)
			}
			rig.wg.Add(1)
			go rig.readLoop(rctx, pc)
		}
	}
	return rig, nil
}
