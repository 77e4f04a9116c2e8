package projections

import (
	"context"
	"slices"
	"strings"

	"parley/internal/realtime"
)

var _ realtime.ContactReader = (*DB)(nil)

// Bounds of one contacts read, so that a user in very many or very large
// conversations costs a bounded read: the co-memberships it reads, and
// (past the limit asked for) the conversations it looks at, the most
// recently active first.
const (
	contactRows          = 20000
	contactConversations = 1000
)

// contactsAllQuery reads every co-membership of ?1 (at most ?2 rows) as one
// row: their number and the other members' ids joined by spaces (a user id
// holds no space). One row instead of one per contact, and no sort: a join
// storm runs one per join, and this is the cheapest form SQLite has for it.
const contactsAllQuery = `SELECT count(*), coalesce(group_concat(id, ' '), '') FROM (
	SELECT o.user_id AS id FROM participants p JOIN participants o ON o.conversation_id = p.conversation_id
	WHERE p.user_id = ?1 AND o.user_id <> ?1 LIMIT ?2)`

// contactsRecentQuery is the read for a user with more contacts than asked
// for: those of the most recently active shared conversation first (then by
// id), at most ?2, from the user's ?3 most recently active conversations
// and at most ?4 co-memberships.
const contactsRecentQuery = `WITH recent AS MATERIALIZED (
		SELECT p.conversation_id AS id, c.last_activity_seq AS act
		FROM participants p JOIN conversations c ON c.id = p.conversation_id
		WHERE p.user_id = ?1 ORDER BY c.last_activity_seq DESC LIMIT ?3),
	shared AS MATERIALIZED (
		SELECT o.user_id AS id, r.act AS act FROM recent r JOIN participants o ON o.conversation_id = r.id
		WHERE o.user_id <> ?1 LIMIT ?4)
	SELECT coalesce(group_concat(id, ' '), '') FROM (
		SELECT id FROM shared GROUP BY id ORDER BY max(act) DESC, id LIMIT ?2)`

// Contacts lists at most limit users who share at least one conversation
// with userID (userID excluded), sorted by id: whose presence the user sees
// on presence-messaging. A user with more than limit gets those of their
// most recently active conversations. The reads are bounded (see the
// queries) and, like the one-row lookups, do not watch ctx: a join storm
// runs one per join, and a cancellable context costs each statement
// goroutines of its own.
func (db *DB) Contacts(ctx context.Context, userID string, limit int) (r0 []string, qerr error) {
	defer wrapQuery(&qerr, "contacts of %s", userID)
	ctx = context.WithoutCancel(ctx)
	var rows int
	var ids string
	if err := db.queryRow(ctx, contactsAllQuery, userID, contactRows).Scan(&rows, &ids); err != nil {
		return nil, err
	}
	out := distinctIDs(ids)
	if len(out) <= limit && rows < contactRows {
		return out, nil
	}
	if err := db.queryRow(ctx, contactsRecentQuery, userID, limit, contactConversations, contactRows).Scan(&ids); err != nil {
		return nil, err
	}
	return distinctIDs(ids), nil
}

// distinctIDs splits space-separated ids into a sorted list without
// repeats.
func distinctIDs(s string) []string {
	ids := strings.Fields(s)
	slices.Sort(ids)
	return slices.Compact(ids)
}
