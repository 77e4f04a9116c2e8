// Package e2e holds Parley's end-to-end tests: each starts whole nodes (a real
// embedded NATS server and a real SQLite file in a temp dir) and drives them
// through their public interfaces — REST, SSE, the Pusher-protocol WebSocket
// with the real pusher-js and laravel-echo clients (clients/), and the ops
// page in headless Chromium (opspage/).
package e2e
