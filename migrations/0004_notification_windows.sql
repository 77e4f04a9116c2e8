-- Notification windows. A notification opened by notification.opened stores
-- its window instead of a count: first_seq is the stream sequence of its
-- first message, until_seq the first message of the same user's next
-- notification of the conversation (NULL while there is none). Its count,
-- last message, sender and preview are derived from the conversation's
-- messages when it is read. Rows of notification.created keep first_seq NULL
-- and their stored counts, as before.
ALTER TABLE notifications ADD COLUMN first_seq INTEGER;
ALTER TABLE notifications ADD COLUMN until_seq INTEGER;

-- The latest notification of a user in a conversation, read or not (a new
-- window bounds the previous one).
DROP INDEX notifications_unread;
CREATE INDEX notifications_by_conversation ON notifications (user_id, conversation_id, seq);

-- A conversation's open windows, which the notifier loads on the
-- conversation's first job on a node.
CREATE INDEX notifications_open ON notifications (conversation_id, window_ends_at) WHERE read_at IS NULL;
