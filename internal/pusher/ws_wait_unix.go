//go:build unix

package pusher

import "syscall"

// waitReadable blocks until the client has sent something (or the
// connection failed or its read deadline passed), from a shallow stack: a
// reader parked here instead of deep in the WebSocket library uses little
// enough stack for the runtime to shrink it to 4 KiB. It returns at once
// when the read buffer already holds data.
func (w *wsConn) waitReadable() error {
	if w.raw == nil || w.br == nil || w.br.Buffered() > 0 {
		return nil
	}
	return w.raw.Read(peekReady)
}

// buffered reports whether a read would not block: the read buffer holds
// data, or the socket has some (or failed, or cannot be asked).
func (w *wsConn) buffered() bool {
	if w.raw == nil || w.br == nil || w.br.Buffered() > 0 {
		return true
	}
	ready := true
	if err := w.raw.Control(func(fd uintptr) { ready = peekReady(fd) }); err != nil {
		return true
	}
	return ready
}

// peekReady reports whether a read on fd would not block: there is data,
// the peer closed, or the socket failed (the read then sees it).
func peekReady(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN
}
