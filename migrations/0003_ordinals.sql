-- Unread counts, totals and receipts derived from per-conversation message
-- ordinals and per-member read anchors, so an event writes a bounded number
-- of rows whatever the size of its conversation (projection version 2).
--
-- On a database built by version 1 this converts the rows in place, with the
-- same answers, so the node serves from it while a background rebuild makes
-- the version-2 file; on a new database the tables are still empty.

-- A message's ordinal: 1 for the first message of its conversation, counting
-- every accepted message.sent, deleted or not. conversations.message_count
-- is the latest ordinal. deleted_seq is the message.deleted event's sequence.
ALTER TABLE messages ADD COLUMN ord INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN deleted_seq INTEGER;
UPDATE messages SET ord = o.n FROM (SELECT seq,
    row_number() OVER (PARTITION BY conversation_id ORDER BY seq) AS n FROM messages) AS o
    WHERE o.seq = messages.seq;
-- Version 1 kept no deletion sequence. Receipts need only its order against
-- the reads: after every read that recorded the message, before any other.
UPDATE messages SET deleted_seq = coalesce(
    (SELECT max(r.read_seq) + 1 FROM message_reads r WHERE r.message_id = messages.id), seq + 1)
    WHERE deleted_at IS NOT NULL;
CREATE INDEX messages_deleted ON messages (conversation_id, ord) WHERE deleted_at IS NOT NULL;
-- How far a conversation's deletions reach: a member whose anchor is past
-- it has no deleted message to leave out.
ALTER TABLE conversations ADD COLUMN max_deleted_ord INTEGER NOT NULL DEFAULT 0;
UPDATE conversations SET max_deleted_ord = coalesce((SELECT max(ord) FROM messages m
    WHERE m.conversation_id = conversations.id AND m.deleted_at IS NOT NULL), 0);

-- A member's read anchor: read_ord is the ordinal their marker stands on (the
-- conversation's message_count when they joined, until they read), own_after
-- the messages they sent after it (deleted or not).
ALTER TABLE participants ADD COLUMN read_ord INTEGER NOT NULL DEFAULT 0;
ALTER TABLE participants ADD COLUMN own_after INTEGER NOT NULL DEFAULT 0;
UPDATE participants SET
    read_ord = coalesce((SELECT m.ord FROM messages m
        WHERE m.conversation_id = participants.conversation_id AND m.seq <= participants.last_read_seq
        ORDER BY m.seq DESC LIMIT 1), 0),
    own_after = (SELECT count(*) FROM messages m
        WHERE m.conversation_id = participants.conversation_id AND m.seq > participants.last_read_seq
        AND m.sender_id = participants.user_id);
DROP INDEX participants_by_user;
ALTER TABLE participants DROP COLUMN unread_count;
ALTER TABLE participants DROP COLUMN last_activity_seq;
CREATE INDEX participants_by_user ON participants (user_id, read_ord, own_after);


-- One row per accepted conversation.read: the member's marker moved from
-- from_seq (exclusive) to to_seq (inclusive). A message's receipts are the
-- rows whose range holds it, of readers other than its sender, read before
-- it was deleted.
ALTER TABLE message_reads RENAME TO message_reads_v1;
CREATE TABLE message_reads (
    read_seq        INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    from_seq        INTEGER NOT NULL,
    to_seq          INTEGER NOT NULL,
    read_at         TEXT NOT NULL
);
CREATE INDEX message_reads_by_conversation ON message_reads (conversation_id, to_seq);
-- Version 1 kept one row per message passed; a read event's rows become one
-- range from its first to its last message. The messages inside the range it
-- did not record are the reader's own and those deleted before the read,
-- which the receipt rule leaves out as well.
INSERT INTO message_reads (read_seq, conversation_id, user_id, from_seq, to_seq, read_at)
    SELECT r.read_seq, r.conversation_id, r.user_id, min(m.seq) - 1, max(m.seq), r.read_at
    FROM message_reads_v1 r JOIN messages m ON m.id = r.message_id
    GROUP BY r.read_seq, r.conversation_id, r.user_id, r.read_at;
DROP TABLE message_reads_v1;

-- A member's unread count: the messages after their anchor, less their own
-- and those others deleted. The user's unread total is the sum over their
-- conversations.
DROP TABLE unread_summary;
CREATE VIEW unread_summary AS
    SELECT p.conversation_id, p.user_id, p.last_read_message_id, p.last_read_seq,
        c.message_count - p.read_ord - p.own_after - CASE WHEN c.max_deleted_ord <= p.read_ord THEN 0
            ELSE (SELECT count(*) FROM messages d WHERE d.conversation_id = p.conversation_id
                AND d.deleted_at IS NOT NULL AND d.ord > p.read_ord AND d.sender_id <> p.user_id) END AS unread_count
    FROM participants p JOIN conversations c ON c.id = p.conversation_id;
