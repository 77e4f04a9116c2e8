package node

import "parley/engine"

// onCommit receives every batch of accepted events after the projector has
// committed it: the hand-off point to realtime delivery.
func (m *Node) onCommit(events []engine.Event) {}
