// Package notify is Parley's offline fallback: the notifications worker reads
// committed sends from a shared work queue and, for each recipient not online,
// appends one notification per (recipient, conversation, window) to the
// NOTIFICATIONS stream; the service lists and marks them read; the webhook
// handler delivers each new notification to the application's endpoint.
// Notifications are events, so every node's projection sees them.
package notify
