package pusher

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
)

// ipCounter counts the open WebSocket connections per client address, so
// one client cannot fill a node with anonymous public-channel sockets.
type ipCounter struct {
	mu sync.Mutex
	n  map[string]int
}

// acquire takes a slot for ip, or reports false when it holds limit
// already; limit 0 means no limit.
func (c *ipCounter) acquire(ip string, limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	if limit > 0 && c.n[ip] >= limit {
		return false
	}
	c.n[ip]++
	return true
}

// release gives back a slot acquire took.
func (c *ipCounter) release(ip string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[ip] <= 1 {
		delete(c.n, ip)
		return
	}
	c.n[ip]--
}

// capKey is what the per-address cap counts for a client address: an IPv4
// address itself, and for IPv6 its /64, since one host or home network
// holds a whole /64 and could otherwise open as many sockets as it has
// addresses.
func capKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.WithZone("").Unmap() // ::ffff:1.2.3.4 is 1.2.3.4
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// clientIP is the request's client address: the peer, or, when the peer is
// a trusted proxy, the right-most X-Forwarded-For entry that is not one.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if s.rt == nil || !trusted(s.rt.TrustedProxies, host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if net.ParseIP(hop) == nil {
			break
		}
		if !trusted(s.rt.TrustedProxies, hop) {
			return hop
		}
	}
	return host
}

// TrustedPeer reports whether the request comes straight from one of the
// trusted proxies, whose X-Forwarded-* headers may then be believed.
func (c Config) TrustedPeer(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return trusted(c.TrustedProxies, host)
}

func trusted(nets []*net.IPNet, addr string) bool {
	ip := net.ParseIP(addr)
	if ip == nil {
		return false
	}
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}
