-- Replies and reactions. A reply names the message it answers (reply_to, and
-- reply_to_seq to join on); the answered message counts its replies that are
-- not deleted and keeps the time of the latest.
ALTER TABLE messages ADD COLUMN reply_to TEXT;
ALTER TABLE messages ADD COLUMN reply_to_seq INTEGER;
ALTER TABLE messages ADD COLUMN reply_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN last_reply_at TEXT;
CREATE INDEX messages_replies ON messages (reply_to_seq, seq) WHERE reply_to_seq IS NOT NULL;

-- One row per user, message and reaction key the user ever put: whether it
-- stands (active) and how many changes of it the user made (version), so a
-- change applies only on top of the one before it.
CREATE TABLE message_reactions (
    message_seq INTEGER NOT NULL,
    user_id     TEXT NOT NULL,
    emoji       TEXT NOT NULL,
    active      INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    changed_seq INTEGER NOT NULL,
    PRIMARY KEY (message_seq, user_id, emoji)
) WITHOUT ROWID;

-- A message's standing reactions per key, in the order first put (first_seq);
-- a key nobody holds any more has no row.
CREATE TABLE reaction_counts (
    message_seq INTEGER NOT NULL,
    emoji       TEXT NOT NULL,
    count       INTEGER NOT NULL,
    first_seq   INTEGER NOT NULL,
    PRIMARY KEY (message_seq, emoji)
) WITHOUT ROWID;

-- Mentions: the participants a message's body mentions, one row each (at most
-- 50 per message), kept while the message is not deleted; the message keeps
-- the list as JSON for its answers. A member's mention_count is their rows
-- after their read marker.
ALTER TABLE messages ADD COLUMN mentions TEXT;
CREATE TABLE mentions (
    user_id         TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    message_seq     INTEGER NOT NULL,
    PRIMARY KEY (user_id, conversation_id, message_seq)
) WITHOUT ROWID;
CREATE INDEX mentions_by_message ON mentions (message_seq);

-- Per-member settings: muted, archived_seq (the sequence that archived the
-- conversation; a later message brings it back), pinned_seq (0: not pinned),
-- and settings_version (the member's settings changes so far).
ALTER TABLE participants ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE participants ADD COLUMN archived_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE participants ADD COLUMN pinned_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE participants ADD COLUMN settings_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX participants_pinned ON participants (user_id) WHERE pinned_seq > 0;

DROP VIEW unread_summary;
CREATE VIEW unread_summary AS
    SELECT p.conversation_id, p.user_id, p.last_read_message_id, p.last_read_seq,
        c.message_count - p.read_ord - p.own_after - CASE WHEN c.max_deleted_ord <= p.read_ord THEN 0
            ELSE (SELECT count(*) FROM messages d WHERE d.conversation_id = p.conversation_id
                AND d.deleted_at IS NOT NULL AND d.ord > p.read_ord AND d.sender_id <> p.user_id) END AS unread_count,
        p.muted, p.archived_seq, p.pinned_seq
    FROM participants p JOIN conversations c ON c.id = p.conversation_id;
