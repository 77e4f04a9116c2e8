-- Attachments: the uploads a message carries (its JSON, for its answers), and
-- one row per attachment saying which message carries it (the first message
-- to name an upload keeps it), so a download is allowed to the participants
-- of that message's conversation, and not at all once the message is
-- deleted.
ALTER TABLE messages ADD COLUMN attachments TEXT;
CREATE TABLE attachments (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    message_seq     INTEGER NOT NULL,
    deleted         INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX attachments_by_message ON attachments (message_seq);
