package projections_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"parley/engine"
	"parley/internal/testkit"
)

// Contacts lists who shares a conversation with a user, once each, never
// the user, sorted by id; past the limit asked for, those of the most
// recently active conversations.
func TestContacts(t *testing.T) {
	env := testkit.Start(t)
	alice := env.Token("alice")
	create := func(others ...string) string {
		var d engine.ConversationDetail
		env.MustDo(http.StatusCreated, "POST", "/api/conversations", alice, map[string]any{"participant_ids": others, "title": "g"}, &d)
		return d.ID
	}
	create("bob", "carol")
	g2 := create("dave")
	create("erin", "bob")
	env.MustDo(http.StatusCreated, "POST", "/api/messages/"+g2, alice, map[string]string{"body": "hi", "client_temp_id": "c1"}, nil)

	ctx := context.Background()
	db := env.Node.DB()
	for _, c := range []struct {
		user  string
		limit int
		want  []string
	}{
		{"alice", 10, []string{"bob", "carol", "dave", "erin"}},
		{"alice", 4, []string{"bob", "carol", "dave", "erin"}},
		{"alice", 2, []string{"bob", "dave"}}, // g2 (a message) and g3 (created after g1) are the most recent
		{"alice", 1, []string{"dave"}},
		{"carol", 10, []string{"alice", "bob"}},
		{"nobody", 10, nil},
	} {
		got, err := db.Contacts(ctx, c.user, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Contacts(%s, %d) = %v, want %v", c.user, c.limit, got, c.want)
		}
	}
}
