package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"parley/api"
	"parley/engine"
)

// bigroomWindow caps each of the bigroom workload's four measured windows.
const bigroomWindow = 5 * time.Second

// bigroomSenders are the closed loops the bigroom workload runs, in order.
var bigroomSenders = []int{1, 8}

// benchBigroom: closed-loop sends from one sender, then from eight, into a
// conversation of c.BigMembers members of whom c.BigConnected are connected
// (subscribed sockets, online on presence-messaging) and the rest offline
// (a notification each), and the same sends into a 2-member conversation
// (the other member connected) on the same server as the reference. Each
// big-room result carries extra.cpu_ratio: its server CPU per send over the
// reference's at the same senders. The same two rooms (1 and c.BigConnected
// sockets) then get the same sends on the fanout transport floor's
// forwarding-only server, and the big-room result carries what the floor
// spent per send in each (extra.floor_cpu_us_per_send, _reference) and
// extra.extra_cpu_over_floor: what a big-room send costs Parley beyond the
// reference's over what it costs the floor beyond its reference, the
// deliveries' own cost against the bare transport's.
func benchBigroom(ctx context.Context, c benchConfig, stderr io.Writer) ([]Result, error) {
	if c.BigMembers < 2 || c.BigConnected < 1 || c.BigConnected > c.BigMembers-1 {
		return nil, fmt.Errorf("--bigroom-members %d and --bigroom-connected %d: want at least 2 members and 1 to members-1 connected (the sender has no socket)",
			c.BigMembers, c.BigConnected)
	}
	s, err := startBenchServer(ctx, c, stderr)
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	key, err := s.appKey(s.token("bigroom-probe"))
	if err != nil {
		return nil, err
	}
	ref, err := newRoomRig(ctx, s, key, "bref", 2, 1)
	if err != nil {
		return nil, err
	}
	defer ref.close()
	big, err := newRoomRig(ctx, s, key, "big", c.BigMembers, c.BigConnected)
	if err != nil {
		return nil, err
	}
	defer big.close()
	fs, err := startFloorServer(ctx, stderr)
	if err != nil {
		return nil, fmt.Errorf("fanout transport floor: %w", err)
	}
	defer fs.Stop()
	fref, err := newFloorRig(ctx, fs, "fref", []int{1})
	if err != nil {
		return nil, err
	}
	defer fref.close()
	fbig, err := newFloorRig(ctx, fs, "fbig", []int{c.BigConnected})
	if err != nil {
		return nil, err
	}
	defer fbig.close()
	c.Duration = min(c.Duration, bigroomWindow)
	var out []Result
	for _, n := range bigroomSenders {
		c.Senders = n
		r0, err := measureRoom(ctx, ref, c, "reference", 2)
		if err != nil {
			return nil, err
		}
		r1, err := measureRoom(ctx, big, c, "big", c.BigMembers)
		if err != nil {
			return nil, err
		}
		f0, err := fref.run(ctx, c, 0)
		if err != nil {
			return nil, err
		}
		f1, err := fbig.run(ctx, c, 0)
		if err != nil {
			return nil, err
		}
		if r0.ServerCPUUsPerSend > 0 {
			r1.Extra["cpu_ratio"] = r1.ServerCPUUsPerSend / r0.ServerCPUUsPerSend
		}
		r1.Extra["floor_cpu_us_per_send"], r1.Extra["floor_cpu_us_per_send_reference"] = f1.ServerCPUUsPerSend, f0.ServerCPUUsPerSend
		if d := f1.ServerCPUUsPerSend - f0.ServerCPUUsPerSend; d > 0 {
			r1.Extra["extra_cpu_over_floor"] = (r1.ServerCPUUsPerSend - r0.ServerCPUUsPerSend) / d
		}
		out = append(out, r0, r1)
	}
	return out, nil
}

// newRoomRig creates one group conversation of members users, prefix-0 (the
// sender, without a socket) to prefix-(members-1), and connects the first
// connected of the others.
func newRoomRig(ctx context.Context, s *benchServer, key, prefix string, members, connected int) (*fanoutRig, error) {
	sender := s.token(prefix + "-0")
	var others []string
	for i := 1; i < members; i++ {
		others = append(others, fmt.Sprintf("%s-%d", prefix, i))
	}
	var d engine.ConversationDetail
	if _, err := s.do("POST", "/api/conversations", sender, map[string]any{"participant_ids": others, "title": "bigroom"}, &d); err != nil {
		return nil, err
	}
	rig := &fanoutRig{s: s, rooms: []fanoutRoom{{id: d.ID, sender: sender}}}
	subs := make([]subscriber, connected)
	for i := range subs {
		subs[i] = subscriber{user: others[i], room: 0}
	}
	if err := rig.connect(ctx, key, subs); err != nil {
		return nil, err
	}
	return rig, nil
}

// measureRoom runs rig's closed loop with c.Senders senders from a drained
// server and labels the result with room and its members. Its server CPU
// per send counts from the window's start until the server has drained what
// the sends left behind (the offline members' notifications), as that work
// is the sends' too; the window's own figure is
// extra.server_cpu_us_per_send_in_window.
func measureRoom(ctx context.Context, rig *fanoutRig, c benchConfig, room string, members int) (Result, error) {
	s := rig.s
	if err := s.waitDrained(ctx, 10*time.Minute); err != nil {
		return Result{}, err
	}
	cpu0 := s.cpu()
	r, err := rig.run(ctx, c, 0)
	if err != nil {
		return r, err
	}
	t := time.Now()
	if err := s.waitDrained(ctx, 10*time.Minute); err != nil {
		return r, err
	}
	cpu := s.cpu() - cpu0
	sent := r.SendsPerS * c.Duration.Seconds() // run's rate is sends over c.Duration
	if r.Extra == nil {
		r.Extra = map[string]any{}
	}
	r.Extra["server_cpu_us_per_send_in_window"], r.Extra["drain_s"] = r.ServerCPUUsPerSend, time.Since(t).Seconds()
	r.ServerCPUUsPerSend, r.ServerCPUUsPerDelivery = 0, 0
	if cpu > 0 && sent > 0 {
		r.ServerCPUUsPerSend = float64(cpu.Microseconds()) / sent
	}
	connected := len(rig.conns)
	r.Workload = "bigroom"
	r.Params = map[string]any{"room": room, "members": members, "connected": connected, "offline_recipients": members - 1 - connected,
		"senders": c.Senders, "mode": "closed-loop", "duration_s": c.Duration.Seconds()}
	return r, nil
}

// waitDrained waits until the server has made every notification asked for
// so far (waitIdle) and then until both projections (messages,
// notifications) have applied their streams to the end.
func (s *benchServer) waitDrained(ctx context.Context, timeout time.Duration) error {
	if err := s.waitIdle(ctx, timeout); err != nil {
		return err
	}
	return s.waitOps(ctx, timeout, "apply its streams to the end", func(st *api.OpsStats) bool {
		for _, p := range st.Projections {
			if p.Lag > 0 {
				return false
			}
		}
		return len(st.Projections) > 0
	})
}
