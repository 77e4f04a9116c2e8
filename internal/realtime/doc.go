// Package realtime is Parley's live delivery: the hub of connected clients
// (bounded outbound buffers, drop on overflow), the dispatcher that hands
// each committed batch to the channels that hear it, frames encoded once per
// wire format, presence (the inbox-level presence-messaging channel and
// per-conversation presence) and occupancy kept alive by leases in the log's KV store, and the
// Pusher-compatible app channels. Transports (the Pusher WebSocket, SSE) sit
// above it; the log's adapters implement its ports.
package realtime
