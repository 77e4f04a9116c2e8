-- Full-text search over message bodies: an FTS5 index of each body and its
-- conversation id (so a search intersects a user's conversations inside the
-- index), whose content is the messages table (external content, so bodies
-- are stored once), kept by triggers as messages are inserted and their
-- bodies change (an edit, or a deletion, which empties the body). A large
-- rebuild drops the index and its triggers and builds them once at its end.
CREATE VIRTUAL TABLE messages_fts USING fts5(body, conversation_id, content='messages', content_rowid='seq', tokenize='unicode61 remove_diacritics 2', prefix='2 3');
INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, body, conversation_id) VALUES (new.seq, new.body, new.conversation_id);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body, conversation_id) VALUES ('delete', old.seq, old.body, old.conversation_id);
    INSERT INTO messages_fts(rowid, body, conversation_id) VALUES (new.seq, new.body, new.conversation_id);
END;
