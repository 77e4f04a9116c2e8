//go:build linux

package pusher

import (
	"sync"
	"syscall"
)

// wsPoller waits for client frames on all the idle sockets of a server with
// one epoll instance and one goroutine, so that an idle socket holds no
// goroutine, and so no stack, at all. When a parked socket becomes readable
// (a frame, the peer's close, an error), the poller starts a reader for it
// (wsConn.read), which handles what the client sent and parks the socket
// again. Registrations are one-shot: a socket is armed again only when its
// reader parks it, so one reader at most runs per socket, and the readers
// running at once are bounded by the sockets, which are capped.
type wsPoller struct {
	epfd   int
	wake   [2]int        // a pipe: a byte written to wake[1] stops the loop
	life   sync.RWMutex  // held (read) while parking, so the loop's stop waits for parks in flight
	fail   bool          // under life: the loop has stopped and sockets no longer park
	closed bool          // under life: close ran
	done   chan struct{} // closed when the loop has stopped
	mu     sync.Mutex
	conns  map[uint64]*wsConn // by registration id
	next   uint64
}

// wsPollEvents are the events a parked socket waits for; the kernel adds
// EPOLLERR and EPOLLHUP.
const wsPollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// newWSPoller starts a poller, or returns nil if the system refuses one (the
// sockets then each keep a reader goroutine).
func newWSPoller() *wsPoller {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	p := &wsPoller{epfd: epfd, conns: map[uint64]*wsConn{}, done: make(chan struct{})}
	if err := syscall.Pipe2(p.wake[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		_ = syscall.Close(epfd)
		return nil
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN} // id 0: the wake pipe
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
		p.closeFDs()
		return nil
	}
	go p.loop()
	return p
}

// loop wakes the parked sockets that became readable until close, or until
// epoll fails, when every socket is woken and reads on its own goroutine.
func (p *wsPoller) loop() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			p.stop()
			return
		}
		for i := range events[:n] {
			id := uint64(uint32(events[i].Fd)) | uint64(uint32(events[i].Pad))<<32
			if id == 0 {
				p.stop()
				return
			}
			p.mu.Lock()
			w := p.conns[id]
			p.mu.Unlock()
			if w != nil {
				w.wake()
			}
		}
	}
}

// stop makes parking fail from now on and wakes every parked socket.
func (p *wsPoller) stop() {
	p.life.Lock()
	p.fail = true
	p.life.Unlock()
	p.mu.Lock()
	all := make([]*wsConn, 0, len(p.conns))
	for _, w := range p.conns {
		all = append(all, w)
	}
	p.mu.Unlock()
	for _, w := range all {
		w.wake()
	}
}

func (p *wsPoller) closeFDs() {
	_ = syscall.Close(p.epfd)
	_ = syscall.Close(p.wake[0])
	_ = syscall.Close(p.wake[1])
}

// close stops the loop, waits for it and releases the poller's files; the
// sockets still parked are woken and read on their own goroutines. Only
// the first call does anything.
func (p *wsPoller) close() {
	if p == nil {
		return
	}
	p.life.Lock()
	first := !p.closed
	p.closed = true
	p.life.Unlock()
	if !first {
		return
	}
	_, _ = syscall.Write(p.wake[1], []byte{1})
	<-p.done
	p.closeFDs()
}

// park hands w, whose reader found nothing to read, to the poller, and
// reports whether it did: the caller's goroutine must then return without
// touching w, which another reader may already have. When it did not (the
// connection is closed, or the poller stopped), the caller reads on itself.
func (p *wsPoller) park(w *wsConn) bool {
	if p == nil || w.raw == nil {
		return false
	}
	p.life.RLock()
	defer p.life.RUnlock()
	if p.fail {
		return false
	}
	id, op := w.pollID, syscall.EPOLL_CTL_MOD
	if id == 0 {
		p.mu.Lock()
		p.next++
		id = p.next
		p.conns[id] = w
		p.mu.Unlock()
		op = syscall.EPOLL_CTL_ADD
		w.pollID = id // before parking: a reader woken at once may park again
	}
	w.pollState.Store(wsParked)
	var ctlErr error
	err := w.raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: wsPollEvents, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
		ctlErr = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
		if ctlErr == syscall.ENOENT && op == syscall.EPOLL_CTL_MOD {
			// An ADD that failed while a wake took the socket left its id
			// unregistered; the open fd cannot be another socket's.
			ctlErr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
		}
	})
	if err == nil {
		err = ctlErr
	}
	if err == nil {
		return true
	}
	// A wake (the poller's stop, an abort) may have taken the socket
	// meanwhile: its reader goes on.
	if !w.pollState.CompareAndSwap(wsParked, wsReading) {
		return true
	}
	if op == syscall.EPOLL_CTL_ADD {
		p.forget(id)
		w.pollID = 0
	}
	return false
}

// forget drops a registration; the socket's connection is closed, which
// takes it out of the epoll set.
func (p *wsPoller) forget(id uint64) {
	if p == nil || id == 0 {
		return
	}
	p.mu.Lock()
	delete(p.conns, id)
	p.mu.Unlock()
}
