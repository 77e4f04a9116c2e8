package pusher

import (
	"context"
	"sync"
	"time"
)

// wsSweeper keeps the time for every WebSocket of a server, so that an idle
// socket owns no timer: once per tick it pings the sockets silent for the
// activity timeout, closes with 4201 the pinged ones that did not answer
// within the pong timeout, and closes with 4202 those without a
// subscription for the idle timeout; and it drops the sockets whose client
// did not answer a close within wsCloseWait.
type wsSweeper struct {
	rt   *Config
	tick time.Duration

	mu     sync.Mutex
	conns  map[*wsConn]struct{}
	scan   []*wsConn // reused between ticks
	closed bool      // closeAll ran: sockets added later are dropped at once
}

// newWSSweeper returns a sweeper ticking at a quarter of the shortest
// timeout, between 50 ms and 1 s, so a deadline is kept within that much.
func newWSSweeper(rt *Config) *wsSweeper {
	tick := min(rt.ActivityTimeout, rt.PongTimeout, rt.IdleTimeout) / 4
	tick = max(50*time.Millisecond, min(tick, time.Second))
	return &wsSweeper{rt: rt, tick: tick, conns: map[*wsConn]struct{}{}}
}

func (sw *wsSweeper) add(w *wsConn) {
	sw.mu.Lock()
	sw.conns[w] = struct{}{}
	closed := sw.closed
	sw.mu.Unlock()
	if closed {
		w.abort()
	}
}

func (sw *wsSweeper) remove(w *wsConn) {
	sw.mu.Lock()
	delete(sw.conns, w)
	sw.mu.Unlock()
}

// closeAll drops every socket without waiting for its client, and any
// socket added later: the server's shutdown has stopped waiting.
func (sw *wsSweeper) closeAll() {
	sw.mu.Lock()
	sw.closed = true
	all := make([]*wsConn, 0, len(sw.conns))
	for w := range sw.conns {
		all = append(all, w)
	}
	sw.mu.Unlock()
	for _, w := range all {
		w.abort()
	}
}

// run sweeps until ctx ends.
func (sw *wsSweeper) run(ctx context.Context) {
	t := time.NewTicker(sw.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			sw.sweep(now.UnixNano())
		}
	}
}

// sweep checks every socket once; it only sets flags and starts writers,
// so it never waits for a client.
func (sw *wsSweeper) sweep(now int64) {
	sw.mu.Lock()
	scan := sw.scan[:0]
	for w := range sw.conns {
		scan = append(scan, w)
	}
	sw.mu.Unlock()
	for i, w := range scan {
		sw.check(w, now)
		scan[i] = nil
	}
	sw.scan = scan[:0]
}

// check applies the activity and idle deadlines to one socket. pingAt is
// owned by the sweeper's goroutine.
func (sw *wsSweeper) check(w *wsConn, now int64) {
	if w.finished.Load() {
		if by := w.closeBy.Load(); by != 0 && now >= by {
			w.abort() // the client did not answer the close in time
		}
		return
	}
	last := w.lastActivity.Load()
	if w.pingAt != 0 {
		if last <= w.pingAt {
			if now-w.pingAt >= int64(sw.rt.PongTimeout) {
				w.fail(pusherPongTimeout, "pong reply not received")
				return
			}
		} else {
			w.pingAt = 0
		}
	}
	if w.pingAt == 0 && now-last >= int64(sw.rt.ActivityTimeout) {
		w.pingAt = now
		w.ping()
	}
	if w.client.NumChannels() > 0 {
		w.lastSubs.Store(0)
		return
	}
	since := w.lastSubs.Load()
	switch {
	case since == 0:
		w.lastSubs.Store(now)
	case now-since >= int64(sw.rt.IdleTimeout):
		w.fail(pusherInactive, "closed after inactivity: no subscription")
	}
}
