//go:build !unix

package pusher

// waitReadable returns at once where the socket cannot be polled without
// reading: the reader then waits inside the WebSocket library.
func (w *wsConn) waitReadable() error { return nil }

// buffered reports true: there is no poller to park the socket in.
func (w *wsConn) buffered() bool { return true }
