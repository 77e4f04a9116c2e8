package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"parley/engine"
)

// fanoutRoom is one conversation of the fanout workload.
type fanoutRoom struct {
	id     string
	sender string // token
}

// fanoutRig is the fanout workload's conversations and subscribed sockets.
type fanoutRig struct {
	s        *benchServer
	rooms    []fanoutRoom
	conns    []*pusherConn
	starts   sync.Map // client_temp_id -> time.Time
	received atomic.Int64
	settled  atomic.Int64 // sockets whose presence-messaging list holds every subscriber
	lat      latencies
	answered latencies // from each send's start to its HTTP answer
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// benchFanout: c.FanConvs conversations with c.Subscribers sockets each,
// c.Senders closed-loop HTTP senders, then an open-loop run at c.Rate.
// Either run is skipped when its figure is 0.
func benchFanout(ctx context.Context, c benchConfig, stderr io.Writer) ([]Result, error) {
	if c.Senders <= 0 && c.Rate <= 0 {
		return nil, errors.New("--senders and --rate are both 0, nothing to run")
	}
	s, err := startBenchServer(ctx, c, stderr)
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	rig, err := newFanoutRig(ctx, s, c.FanConvs, c.Subscribers)
	if err != nil {
		return nil, err
	}
	defer rig.close()
	var out []Result
	if c.Senders > 0 {
		closed, err := rig.run(ctx, c, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, closed)
	}
	if c.Rate > 0 {
		open, err := rig.run(ctx, c, c.Rate)
		if err != nil {
			return nil, err
		}
		out = append(out, open)
	}
	return out, nil
}

func newFanoutRig(ctx context.Context, s *benchServer, convs, subs int) (*fanoutRig, error) {
	rig := &fanoutRig{s: s}
	key, err := s.appKey(s.token("fanout-probe"))
	if err != nil {
		return nil, err
	}
	var subscribers []subscriber
	for k := range convs {
		var members []string
		for j := range subs {
			members = append(members, fmt.Sprintf("fr%d-%d", k, j))
		}
		sender := fmt.Sprint("fs", k)
		var d engine.ConversationDetail
		if _, err := s.do("POST", "/api/conversations", s.token(sender), map[string]any{"participant_ids": members, "title": "fanout"}, &d); err != nil {
			return nil, err
		}
		rig.rooms = append(rig.rooms, fanoutRoom{id: d.ID, sender: s.token(sender)})
		for _, m := range members {
			subscribers = append(subscribers, subscriber{user: m, room: k})
		}
	}
	if err := rig.connect(ctx, key, subscribers); err != nil {
		return nil, err
	}
	return rig, nil
}

// subscriber is one socket of a rig: its user, and the index of the room
// whose private channel it subscribes to.
type subscriber struct {
	user string
	room int
}

// connect opens a socket per subscriber, online on presence-messaging and
// subscribed to its room's channel, reads each in the background until
// close, and waits until every socket has seen the subscribers of its room
// join presence-messaging. On failure it closes the rig.
func (r *fanoutRig) connect(ctx context.Context, key string, subs []subscriber) error {
	rctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	// Every socket joins presence-messaging, so each join is a member_added
	// to every earlier member among its contacts, the subscribers of its
	// room. The measurement starts once every socket has seen all of them,
	// or it would time that storm.
	roomUsers := map[int]map[string]int{}
	for _, sb := range subs {
		if roomUsers[sb.room] == nil {
			roomUsers[sb.room] = map[string]int{}
		}
		roomUsers[sb.room][sb.user] = len(roomUsers[sb.room])
	}
	r.conns = make([]*pusherConn, len(subs))
	errs := make(chan error, len(subs))
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i, sb := range subs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			pc, err := r.s.dialPusher(ctx, key)
			if err != nil {
				errs <- err
				return
			}
			pc.onFrame = r.presenceTracker(roomUsers[sb.room])
			// Like an Echo client: online on presence-messaging (so no
			// offline notification is made for it) and in the room.
			tok := r.s.token(sb.user)
			for _, ch := range []string{"presence-messaging", "private-conversation." + r.rooms[sb.room].id} {
				if err := r.s.subscribe(ctx, pc, tok, ch); err != nil {
					pc.ws.CloseNow()
					errs <- err
					return
				}
			}
			r.conns[i] = pc
			r.wg.Add(1)
			go r.readLoop(rctx, pc)
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		r.close()
		return fmt.Errorf("connect subscribers: %w", err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for r.settled.Load() < int64(len(subs)) {
		if time.Now().After(deadline) {
			r.close()
			return fmt.Errorf("presence did not settle: %d of %d sockets saw every member", r.settled.Load(), len(subs))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// presenceTracker counts the distinct users of userIndex (the subscribers
// of the socket's room) a socket has seen on presence-messaging and marks
// the socket settled when it has seen them all.
func (r *fanoutRig) presenceTracker(userIndex map[string]int) func(pusherFrame) {
	seen := make([]bool, len(userIndex))
	n := 0
	add := func(id string) {
		if i, ok := userIndex[id]; ok && !seen[i] {
			seen[i] = true
			if n++; n == len(seen) {
				r.settled.Add(1)
			}
		}
	}
	return func(f pusherFrame) {
		if f.Channel != "presence-messaging" {
			return
		}
		switch f.Event {
		case "pusher_internal:subscription_succeeded":
			var p struct {
				Presence struct {
					IDs []string `json:"ids"`
				} `json:"presence"`
			}
			if json.Unmarshal([]byte(f.dataString()), &p) == nil {
				for _, id := range p.Presence.IDs {
					add(id)
				}
			}
		case "pusher_internal:member_added":
			var m struct {
				UserID string `json:"user_id"`
			}
			if json.Unmarshal([]byte(f.dataString()), &m) == nil {
				add(m.UserID)
			}
		}
	}
}

func (r *fanoutRig) readLoop(ctx context.Context, pc *pusherConn) {
	defer r.wg.Done()
	// The harness shares the cores with the server, so a delivery costs it
	// as little as it can: one reused buffer, no context per read (closing
	// the socket ends the loop) and, for a message.sent frame, a byte search
	// for its client_temp_id instead of three JSON decodes. Other frames
	// (pings, presence) take the decoding path.
	var buf bytes.Buffer
	for ctx.Err() == nil {
		_, rd, err := pc.ws.Reader(context.Background())
		if err != nil {
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(rd); err != nil {
			return
		}
		raw := buf.Bytes()
		if id, ok := sentTempID(raw); ok && r.delivered(id) {
			continue
		}
		f, err := pc.decode(raw)
		if err != nil {
			return
		}
		switch f.Event {
		case "message.sent":
			r.delivered(clientTempID(f.dataString()))
		case "pusher:ping":
			_ = pc.write(ctx, map[string]any{"event": "pusher:pong", "data": map[string]any{}})
		}
	}
}

// delivered counts one delivery of the send with this client_temp_id and
// reports whether it was one of this run's sends.
func (r *fanoutRig) delivered(id string) bool {
	now := time.Now()
	t, ok := r.starts.Load(id)
	if ok {
		r.lat.add(now.Sub(t.(time.Time)))
		r.received.Add(1)
	}
	return ok
}

var (
	sentEvent  = []byte(`"event":"message.sent"`)
	tempIDMark = []byte(`client_temp_id\":\"`)
)

// sentTempID finds the client_temp_id of a message.sent frame as the
// server writes it (the event first, the data a JSON string with escaped
// quotes). ok is false for any other frame, or a shape it does not know;
// those, and an id that is not one of the run's sends (an escaped
// character would cut it short), go through the decoder and still count.
func sentTempID(raw []byte) (string, bool) {
	if !bytes.HasPrefix(raw, []byte("{")) || !bytes.HasPrefix(raw[1:], sentEvent) {
		return "", false
	}
	i := bytes.Index(raw, tempIDMark)
	if i < 0 {
		return "", false
	}
	rest := raw[i+len(tempIDMark):]
	j := bytes.IndexByte(rest, '\\')
	if j < 0 {
		return "", false
	}
	return string(rest[:j]), true
}

func (r *fanoutRig) close() {
	if r.cancel != nil {
		r.cancel()
	}
	for _, pc := range r.conns {
		if pc != nil {
			pc.ws.CloseNow()
		}
	}
	r.wg.Wait()
}

// run sends for c.Duration, closed-loop with c.Senders when rate is 0, else
// open-loop at rate sends/s, then waits for the deliveries to drain.
func (r *fanoutRig) run(ctx context.Context, c benchConfig, rate int) (Result, error) {
	r.lat, r.answered = latencies{}, latencies{}
	r.received.Store(0)
	var sent, errs atomic.Int64
	var next atomic.Int64
	mode := fmt.Sprint(time.Now().UnixNano())
	// sendOne sends one message; its deliveries' latency counts from start.
	sendOne := func(start time.Time) {
		n := next.Add(1)
		room := r.rooms[int(n)%len(r.rooms)]
		ctid := fmt.Sprint("fan-", mode, "-", n)
		r.starts.Store(ctid, start)
		if _, err := r.s.do("POST", "/api/messages/"+room.id, room.sender, map[string]string{"body": body200, "client_temp_id": ctid}, nil); err != nil {
			errs.Add(1)
			return
		}
		r.answered.add(time.Since(start))
		sent.Add(1)
	}
	cpu0, own0, host0, t0 := r.s.cpu(), harnessCPU(), readHostCPU(), time.Now()
	deadline := t0.Add(c.Duration)
	var wg sync.WaitGroup
	if rate == 0 {
		for range c.Senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) && ctx.Err() == nil {
					sendOne(time.Now())
				}
			}()
		}
	} else {
		// Open loop: send i is due at t0 + i/rate whatever happened to the
		// ones before it, and its latency counts from when it was due, so a
		// server (or a harness) that falls behind shows in the figures
		// instead of slowing the schedule down. Sends that fall due while
		// the loop was late go out at once.
		interval := time.Second / time.Duration(rate)
		sem := make(chan struct{}, 512) // bounded in-flight sends
		for i := 0; ctx.Err() == nil; i++ {
			due := t0.Add(time.Duration(i) * interval)
			if !due.Before(deadline) {
				break
			}
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			select {
			case sem <- struct{}{}:
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					sendOne(due)
				}()
			default:
				errs.Add(1) // the server fell more than 512 sends behind
			}
		}
	}
	wg.Wait()
	subs := int64(len(r.conns) / len(r.rooms))
	want := sent.Load() * subs
	drain := time.Now().Add(15 * time.Second)
	for r.received.Load() < want && time.Now().Before(drain) {
		time.Sleep(10 * time.Millisecond)
	}
	elapsed, cpu, own, steal := time.Since(t0), r.s.cpu()-cpu0, harnessCPU()-own0, host0.stealSince()
	got := r.received.Load()
	res := Result{Workload: "fanout", SendsPerS: float64(sent.Load()) / c.Duration.Seconds(), HostStealPct: steal,
		DeliveriesPerS: float64(got) / elapsed.Seconds(), Errors: errs.Load(), Lost: max(0, want-got),
		Params: map[string]any{"conversations": len(r.rooms), "subscribers_per_conversation": subs, "duration_s": c.Duration.Seconds()}}
	if rate == 0 {
		res.Params["mode"], res.Params["senders"] = "closed-loop", c.Senders
	} else {
		res.Params["mode"], res.Params["rate_per_s"] = "open-loop", rate
	}
	if got > 0 && cpu > 0 {
		res.ServerCPUUsPerDelivery = float64(cpu.Microseconds()) / float64(got)
		res.ServerCPUUsPerSend = float64(cpu.Microseconds()) / float64(max(1, sent.Load()))
	}
	res.Extra = harnessShare(own, sent.Load())
	r.lat.fill(&res)
	// The answer comes once the sender's node has applied the send, as the
	// deliveries are written: its tail against theirs says which side a
	// slow delivery waited on.
	if sent.Load() > 0 {
		var ans Result
		r.answered.fill(&ans)
		if res.Extra == nil {
			res.Extra = map[string]any{}
		}
		res.Extra["answer_p50_ms"], res.Extra["answer_p99_ms"] = ans.P50Ms, ans.P99Ms
	}
	if sent.Load() == 0 {
		return res, errors.New("no send succeeded")
	}
	return res, nil
}

// benchConnections: c.Connections idle sockets, each subscribed to
// presence-messaging and its user's private channel; the server's resident
// memory per connection.
func benchConnections(ctx context.Context, c benchConfig, stderr io.Writer) ([]Result, error) {
	s, err := startBenchServer(ctx, c, stderr)
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	key, err := s.appKey(s.token("conn-probe"))
	if err != nil {
		return nil, err
	}
	// With --contacts, the users share conversations first, so each hears
	// its contacts join (presence-messaging shows a user their contacts).
	setup := map[string]any{}
	if c.Contacts > 0 {
		t0 := time.Now()
		groups := contactGroups(c.Connections, c.Contacts)
		if err := s.createGroups(ctx, groups, func(i int) string { return fmt.Sprint("conn", i) }); err != nil {
			return nil, fmt.Errorf("contacts: %w", err)
		}
		setup["contact_conversations"], setup["contacts_per_user"] = len(groups), meanContacts(c.Connections, groups)
		setup["contacts_setup_s"] = time.Since(t0).Seconds()
	}
	// Every socket is read from its subscription on, as a client reads it,
	// and answers pings. The sockets get the join storm's member_added frames
	// (one per online contact that joins after them): they are read but not
	// decoded, or the harness could not keep up with them and answer a ping
	// within the server's pong timeout.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var readers sync.WaitGroup
	pingEvent := []byte(`"pusher:ping"`)
	drain := func(pc *pusherConn) {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				_, raw, err := pc.ws.Read(rctx)
				if err != nil {
					return
				}
				if bytes.Contains(raw, pingEvent) {
					_ = pc.write(rctx, map[string]any{"event": "pusher:pong", "data": map[string]any{}})
				}
			}
		}()
	}
	open := func(i int) (*pusherConn, error) {
		user := fmt.Sprint("conn", i)
		tok := s.token(user)
		pc, err := s.dialPusher(ctx, key)
		if err != nil {
			return nil, err
		}
		for _, ch := range []string{"presence-messaging", "private-user." + user} {
			if err := s.subscribe(ctx, pc, tok, ch); err != nil {
				pc.ws.CloseNow()
				return nil, err
			}
		}
		drain(pc)
		return pc, nil
	}
	// Warm up (first sockets pay for buffers that every later one shares).
	warm := make([]*pusherConn, 0, 50)
	for i := range 50 {
		pc, err := open(-1 - i)
		if err != nil {
			return nil, err
		}
		warm = append(warm, pc)
	}
	before := s.rssKiB()
	t0, cpu0, own0 := time.Now(), s.cpu(), harnessCPU()
	conns := make([]*pusherConn, c.Connections)
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr error // the first failure; errors of different types, so not an atomic.Value
	var errOnce sync.Once
	sem := make(chan struct{}, 64)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			pc, err := open(i)
			if err != nil {
				failed.Add(1)
				errOnce.Do(func() { firstErr = err })
				return
			}
			conns[i] = pc
		}()
	}
	wg.Wait()
	// The join storm: every join is announced to the joiner's contacts
	// already on presence-messaging, which the harness reads too.
	opened := setup
	opened["open_s"], opened["harness_cpu_s_open"] = time.Since(t0).Seconds(), (harnessCPU() - own0).Seconds()
	if s.pid != 0 {
		opened["server_cpu_s_open"] = (s.cpu() - cpu0).Seconds()
	}
	time.Sleep(c.Settle) // let the server's allocations settle before reading RSS
	after := s.rssKiB()
	cancel()
	for _, pc := range append(conns, warm...) {
		if pc != nil {
			pc.ws.CloseNow()
		}
	}
	readers.Wait()
	ok := int64(c.Connections) - failed.Load()
	r := Result{Workload: "connections", Errors: failed.Load(),
		Params: map[string]any{"connections": c.Connections, "contacts": c.Contacts, "channels_per_connection": 2, "settle_s": c.Settle.Seconds()}, Extra: opened}
	if ok > 0 && after > 0 {
		r.RSSPerConnKiB = float64(after-before) / float64(ok)
		r.Extra["server_rss_before_kib"], r.Extra["server_rss_after_kib"] = before, after
	}
	if firstErr != nil {
		r.Extra["first_error"] = firstErr.Error()
	}
	return []Result{r}, nil
}
