-- Full-text search over message bodies: an FTS5 index of each body and its
-- conversation id (so a search intersects a user's conversations inside the
-- index). Its rowid is the message's sequence negated, so the index's
-- ascending order is newest first: FTS5 walks a posting list forwards by
-- seeking, but reads all of it to walk it backwards. Its content is the
-- messages table through a view that negates the sequence (bodies are stored
-- once); triggers keep it as messages are inserted and their bodies change
-- (an edit, or a deletion, which empties the body). A large rebuild drops
-- the index and its triggers and builds them once at its end.
CREATE VIEW messages_fts_content AS SELECT -seq AS rid, body, conversation_id FROM messages;
CREATE VIRTUAL TABLE messages_fts USING fts5(body, conversation_id, content='messages_fts_content', content_rowid='rid', tokenize='unicode61 remove_diacritics 2', prefix='3');
INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, body, conversation_id) VALUES (-new.seq, new.body, new.conversation_id);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body, conversation_id) VALUES ('delete', -old.seq, old.body, old.conversation_id);
    INSERT INTO messages_fts(rowid, body, conversation_id) VALUES (-new.seq, new.body, new.conversation_id);
END;
