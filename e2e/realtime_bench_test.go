package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parley/engine"
	"parley/internal/node"
	"parley/internal/testkit"
)

// rtBenchSocket subscribes one user's socket to channel and reports, for
// every message.sent, its client_temp_id and when it arrived.
func rtBenchSocket(b *testing.B, env *testkit.Env, user, channel string, arrived func(temp string, at time.Time)) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+env.Node.Addr()+"/app/"+rtKey+"?protocol=7", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.CloseNow() })
	read := func() rtFrame {
		_, data, err := conn.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		var f rtFrame
		_ = json.Unmarshal(data, &f)
		return f
	}
	var est struct {
		SocketID string `json:"socket_id"`
	}
	f := read()
	f.decode(b, &est)
	cd := `{"user_id":"` + user + `"}`
	sub, _ := json.Marshal(map[string]any{"event": "pusher:subscribe", "data": map[string]string{
		"channel": channel, "auth": rtSign(est.SocketID, channel, cd), "channel_data": cd}})
	if err := conn.Write(ctx, websocket.MessageText, sub); err != nil {
		b.Fatal(err)
	}
	if f := read(); f.Event != "pusher_internal:subscription_succeeded" {
		b.Fatalf("subscribe: %+v", f)
	}
	go func() {
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			at := time.Now()
			// Cheap parsing, so the client's 1,000 readers take as little
			// of the machine's two cores from the server as they can.
			if !bytes.HasPrefix(data, []byte(`{"event":"message.sent"`)) {
				continue
			}
			if i := bytes.Index(data, tempKey); i >= 0 {
				rest := data[i+len(tempKey):]
				if j := bytes.IndexByte(rest, '\\'); j >= 0 {
					arrived(string(rest[:j]), at)
				}
			}
		}
	}()
}

// tempKey precedes the client_temp_id inside a frame's JSON-encoded data.
var tempKey = []byte(`client_temp_id\":\"`)

// BenchmarkFanout1000 measures delivery latency from the start of a REST
// send to its receipt on each of 1,000 sockets subscribed to one
// conversation (all of them participants): p50 and p99 over every
// (message, socket) pair. Run with -benchtime=200x for stable figures.
func BenchmarkFanout1000(b *testing.B) {
	const sockets = 1000
	// Every socket comes from 127.0.0.1: no per-address cap.
	env := rtStart(b, func(c *node.Config) { c.MaxConnectionsPerIP = 0 })
	alice := env.Token("alice")
	users := make([]string, 0, sockets-1)
	for i := 1; i < sockets; i++ {
		users = append(users, fmt.Sprintf("u%03d", i))
	}
	conv := rtConv(b, env, alice, users...)
	channel := "private-conversation." + conv

	var mu sync.Mutex
	sentAt := map[string]time.Time{}
	var lat []time.Duration
	pending := map[string]*sync.WaitGroup{}
	arrived := func(temp string, at time.Time) {
		mu.Lock()
		t0, wg := sentAt[temp], pending[temp]
		if wg != nil {
			lat = append(lat, at.Sub(t0))
		}
		mu.Unlock()
		if wg != nil {
			wg.Done()
		}
	}
	all := append([]string{"alice"}, users...)
	var setup sync.WaitGroup
	// Buffered for every user, so a worker that failed (and exited)
	// cannot block the feed; the socket count below then fails the run.
	work := make(chan string, len(all))
	for w := 0; w < 32; w++ {
		setup.Add(1)
		go func() {
			defer setup.Done()
			for u := range work {
				// Online, as a user with the app open is: no offline
				// notifications for them.
				env.MustDo(http.StatusOK, "POST", "/api/messages/presence/heartbeat", env.Token(u), nil, nil)
				rtBenchSocket(b, env, u, channel, arrived)
			}
		}()
	}
	for _, u := range all {
		work <- u
	}
	close(work)
	setup.Wait()
	if n := env.Node.Hub().Stats().Connections; n != sockets {
		b.Fatalf("%d sockets connected, want %d", n, sockets)
	}
	testkit.WaitFor(b, 30*time.Second, "every user online", func() bool {
		_, n := env.Node.Presence().Members(engine.PresenceMessaging)
		return n == sockets
	})

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		temp := fmt.Sprintf("fan-%d", i)
		wg := &sync.WaitGroup{}
		wg.Add(sockets)
		mu.Lock()
		sentAt[temp], pending[temp] = time.Now(), wg
		mu.Unlock()
		env.MustDo(http.StatusCreated, "POST", "/api/messages/"+conv, alice,
			map[string]string{"body": "fan-out " + strings.Repeat("x", 100), "client_temp_id": temp}, nil)
		wg.Wait()
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
	if d := env.Node.Hub().Stats().SlowDrops; d > 0 {
		b.Fatalf("%d sockets dropped as slow consumers", d)
	}
}
