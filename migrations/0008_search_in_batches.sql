-- The search index follows the messages in batches instead of inside every
-- projector transaction: search_progress.seq is the sequence through which
-- every message is in the index, and the projector indexes the messages
-- after it a few hundred at a time (or when a search asks). An edit of a
-- message already in the index replaces its entry at once; an edit of one
-- not yet indexed leaves the index alone, and the batch indexes the body as
-- it is then. Every message present now is in the index already.
DROP TRIGGER IF EXISTS messages_fts_insert;
DROP TRIGGER IF EXISTS messages_fts_update;
CREATE TABLE search_progress (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO search_progress (id, seq) VALUES (1, coalesce((SELECT max(seq) FROM messages), 0));
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages WHEN old.seq <= (SELECT seq FROM search_progress WHERE id = 1) BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body, conversation_id) VALUES ('delete', -old.seq, old.body, old.conversation_id);
    INSERT INTO messages_fts(rowid, body, conversation_id) VALUES (-new.seq, new.body, new.conversation_id);
END;
