-- Read models projected from the NOTIFICATIONS stream: offline-fallback
-- notifications and dead letters. Their checkpoint is the "notifications"
-- row of checkpoints. Times are the events' own.

-- One row per notification: the notification.created event that opened it
-- (id, seq) and the messages that collapsed into it within its window.
CREATE TABLE notifications (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    user_id          TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    last_message_id  TEXT NOT NULL,
    last_message_seq INTEGER NOT NULL,
    sender_id        TEXT NOT NULL,
    preview          TEXT NOT NULL,
    count            INTEGER NOT NULL,
    window_ends_at   TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    read_at          TEXT
);
CREATE INDEX notifications_by_user ON notifications (user_id, seq);
CREATE INDEX notifications_unread ON notifications (user_id, conversation_id, seq) WHERE read_at IS NULL;

-- Every (message, user) pair notified, so a second notification of the same
-- message for the same user (a redelivery after the duplicate window) is
-- skipped deterministically.
CREATE TABLE notification_items (
    message_id       TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    notification_seq INTEGER NOT NULL,
    seq              INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id)
) WITHOUT ROWID;

-- Jobs that failed every attempt (webhooks, notification making).
CREATE TABLE dead_letters (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    ref        TEXT NOT NULL,
    user_id    TEXT NOT NULL DEFAULT '',
    attempts   INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    at         TEXT NOT NULL,
    UNIQUE (kind, ref)
);
