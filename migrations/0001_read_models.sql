-- Read models projected from the MESSAGES stream. Every row is derived from
-- events; times are the events' own, so a rebuild gives the same content.

CREATE TABLE conversations (
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,
    title             TEXT NOT NULL DEFAULT '',
    direct_key        TEXT UNIQUE,
    created_by        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    created_seq       INTEGER NOT NULL,
    last_message_seq  INTEGER NOT NULL DEFAULT 0,
    last_activity_seq INTEGER NOT NULL,
    last_activity_at  TEXT NOT NULL,
    last_event_seq    INTEGER NOT NULL,
    participant_count INTEGER NOT NULL DEFAULT 0,
    message_count     INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE participants (
    conversation_id      TEXT NOT NULL,
    user_id              TEXT NOT NULL,
    joined_seq           INTEGER NOT NULL,
    joined_at            TEXT NOT NULL,
    last_read_message_id TEXT,
    last_read_seq        INTEGER NOT NULL,
    last_read_at         TEXT,
    unread_count         INTEGER NOT NULL DEFAULT 0,
    last_activity_seq    INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;
CREATE INDEX participants_by_user ON participants (user_id, last_activity_seq);

-- seq is the message.sent event's stream sequence and the table's rowid:
-- rows arrive in seq order, so inserts append.
CREATE TABLE messages (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL,
    sender_id       TEXT NOT NULL,
    body            TEXT NOT NULL,
    client_temp_id  TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    edited_at       TEXT,
    deleted_at      TEXT,
    UNIQUE (sender_id, conversation_id, client_temp_id)
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, seq);

CREATE TABLE message_reads (
    message_id      TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    read_seq        INTEGER NOT NULL,
    read_at         TEXT NOT NULL,
    PRIMARY KEY (message_id, user_id)
) WITHOUT ROWID;

CREATE TABLE unread_summary (
    user_id      TEXT PRIMARY KEY,
    unread_total INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Events the projector rejected (a duplicate send after the duplicate window,
-- a command made stale by an earlier event). Delta leaves them out.
CREATE TABLE skipped_events (
    seq             INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    type            TEXT NOT NULL,
    reason          TEXT NOT NULL
);
CREATE INDEX skipped_by_conversation ON skipped_events (conversation_id, seq);

CREATE TABLE checkpoints (
    name TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL
) WITHOUT ROWID;
