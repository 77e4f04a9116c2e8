package realtime

// Read-only accessors the operations side (stats, metrics) reads; they take
// the same locks as the hub's and presence's own readers and change nothing.

// Subscriptions is the number of (client, channel) subscriptions on this
// node's hub.
func (h *Hub) Subscriptions() int {
	n := 0
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.RLock()
		for _, subs := range s.channels {
			n += len(subs)
		}
		s.mu.RUnlock()
	}
	return n
}

// Count is the number of members of a presence channel, as every node's
// watcher sees it (PresenceMessaging: the users online anywhere).
func (p *Presence) Count(channel string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state.count(channel)
}
