//go:build !linux

package pusher

// wsPoller is Linux's epoll waiter (ws_poll_linux.go); elsewhere there is
// none, and each socket keeps a reader goroutine.
type wsPoller struct{}

func newWSPoller() *wsPoller { return nil }

func (p *wsPoller) close() {}

func (p *wsPoller) park(*wsConn) bool { return false }

func (p *wsPoller) forget(uint64) {}
