package e2e_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"parley/internal/testkit"
)

// A delta that starts after a message was sent but holds an edit of it
// shows no text of the message once it is deleted: the edit is emptied as
// the message itself is. Checked from the node's memory of recent events
// and, after a restart, from the log.
func TestDeltaHidesEditsOfDeletedMessages(t *testing.T) {
	env := testkit.Start(t)
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := createConv(t, env, alice, "room", "bob")
	m := sendMsg(t, env, alice, conv, "first words", "m")
	env.MustDo(http.StatusOK, "PATCH", "/api/messages/"+conv+"/"+m.ID, alice, map[string]string{"body": "secret second words @bob"}, nil)
	check := func(when string) {
		t.Helper()
		r := env.MustDo(http.StatusOK, "GET", fmt.Sprintf("/api/messages/%s/delta?after_seq=%d", conv, m.Seq), bob, nil, nil)
		if !strings.Contains(string(r.Body), `"message.edited"`) {
			t.Fatalf("%s: the delta holds no edit: %s", when, r.Body)
		}
		if strings.Contains(string(r.Body), "secret") != (when == "before the deletion") {
			t.Fatalf("%s: %s", when, r.Body)
		}
	}
	check("before the deletion")
	env.MustDo(http.StatusOK, "DELETE", "/api/messages/"+conv+"/"+m.ID, alice, nil, nil)
	check("after the deletion, from memory")
	env.Restart()
	check("after the deletion, from the log")
}
