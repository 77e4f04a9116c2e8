package e2e_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"

	"parley/engine"
)

// The counts a conversation.updated carries come from the dispatcher's
// memory, not from a read per member: after every step of a random history
// (sends by anyone, reads forward to any message, deletions, a member
// leaving and coming back, a listener reconnecting), each listening
// member's last conversation.updated of the changed conversation must say
// what the REST API says: their unread count, read marker and unread total.
func TestConversationUpdatedCountsMatchTheReadModel(t *testing.T) {
	env := rtStart(t)
	users := []string{"alice", "bob", "carol", "dave"} // dave never listens
	tok := map[string]string{}
	for _, u := range users {
		tok[u] = env.Token(u)
	}
	group := rtConv(t, env, tok["alice"], "bob", "carol", "dave")
	direct := rtConv(t, env, tok["bob"], "carol")
	convs := []string{group, direct}
	members := map[string][]string{group: {"alice", "bob", "carol", "dave"}, direct: {"bob", "carol"}}
	listeners := map[string]*rtSocket{}
	listen := func(u string) {
		s := rtDial(t, env)
		s.subscribe(env, tok[u], "private-user."+u)
		listeners[u] = s
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		listen(u)
	}
	msgs := map[string][]engine.Message{}
	rng := rand.New(rand.NewPCG(21, 6))
	carolIn := true
	checked := map[string]uint64{} // user and conversation: the last seq compared
	check := func(step int, conv string) {
		t.Helper()
		for _, u := range members[conv] {
			s := listeners[u]
			if s == nil || (conv == group && u == "carol" && !carolIn) {
				continue
			}
			var list engine.ConversationList
			env.MustDo(http.StatusOK, "GET", "/api/conversations", tok[u], nil, &list)
			var want *engine.ConversationSummary
			for i := range list.Conversations {
				if list.Conversations[i].ID == conv {
					want = &list.Conversations[i]
				}
			}
			if want == nil {
				t.Fatalf("step %d: %s's list lacks %s", step, u, conv)
			}
			if checked[u+" "+conv] == want.LastSeq {
				continue // the step appended nothing (a read of the message already read)
			}
			checked[u+" "+conv] = want.LastSeq
			var got engine.ConversationUpdate
			s.nextWhere("conversation.updated", func(f rtFrame) bool {
				var upd engine.ConversationUpdate
				f.decode(t, &upd)
				if upd.Conversation.ID == conv && upd.Seq == want.LastSeq {
					got = upd
					return true
				}
				return false
			})
			if got.Conversation.UnreadCount != want.UnreadCount || got.Summary.UnreadTotal != list.Summary.UnreadTotal ||
				got.Conversation.LastReadSeq != want.LastReadSeq || got.Conversation.LastSeq != want.LastSeq {
				t.Fatalf("step %d: %s's conversation.updated of %s at seq %d says unread %d, total %d, read seq %d; "+
					"the API says unread %d, total %d, read seq %d", step, u, conv, got.Seq, got.Conversation.UnreadCount,
					got.Summary.UnreadTotal, got.Conversation.LastReadSeq, want.UnreadCount, list.Summary.UnreadTotal, want.LastReadSeq)
			}
		}
	}
	for step := range 120 {
		conv := convs[rng.IntN(len(convs))]
		ms := members[conv]
		actor := ms[rng.IntN(len(ms))]
		if conv == group && actor == "carol" && !carolIn {
			actor = "alice"
		}
		switch k := rng.IntN(10); {
		case k < 5 || len(msgs[conv]) == 0:
			var m engine.Message
			env.MustDo(http.StatusCreated, "POST", "/api/messages/"+conv, tok[actor],
				map[string]string{"body": fmt.Sprintf("m%d", step), "client_temp_id": fmt.Sprintf("c%d", step)}, &m)
			msgs[conv] = append(msgs[conv], m)
		case k < 8:
			// Forward to any message: a read behind the marker is refused.
			m := msgs[conv][rng.IntN(len(msgs[conv]))]
			r := env.Do("POST", "/api/messages/"+conv+"/read", tok[actor], map[string]string{"message_id": m.ID})
			if r.Status != http.StatusOK && r.Status != http.StatusConflict && r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("step %d: read: %d %s", step, r.Status, r.Body)
			}
			if r.Status != http.StatusOK {
				continue
			}
		case k < 9:
			var own []engine.Message
			for _, m := range msgs[conv] {
				if m.SenderID == actor && m.DeletedAt == nil {
					own = append(own, m)
				}
			}
			if len(own) == 0 {
				continue
			}
			m := own[rng.IntN(len(own))]
			env.MustDo(http.StatusOK, "DELETE", "/api/messages/"+conv+"/"+m.ID, tok[actor], nil, nil)
			for i := range msgs[conv] {
				if msgs[conv][i].ID == m.ID {
					msgs[conv][i].DeletedAt = new(string)
				}
			}
		default:
			if conv != group {
				// A listener drops its socket and comes back.
				if s := listeners[actor]; s != nil {
					s.conn.CloseNow()
					listen(actor)
					// What happened before the new socket is not its to hear.
					var list engine.ConversationList
					env.MustDo(http.StatusOK, "GET", "/api/conversations", tok[actor], nil, &list)
					for _, c := range list.Conversations {
						checked[actor+" "+c.ID] = c.LastSeq
					}
				}
				continue
			}
			if carolIn {
				env.MustDo(http.StatusNoContent, "DELETE", "/api/conversations/"+group+"/participants/carol", tok["alice"], nil, nil)
				listeners["carol"].nextWhere("conversation.removed", func(f rtFrame) bool { return true })
			} else {
				env.MustDo(http.StatusOK, "POST", "/api/conversations/"+group+"/participants", tok["alice"],
					map[string]any{"user_ids": []string{"carol"}}, nil)
			}
			carolIn = !carolIn
		}
		check(step, conv)
	}
}

// While a node has no connection at all it delivers nothing, and the counts
// it keeps in memory miss those events: the next listener must still get the
// counts the API gives, not the old ones plus the new messages.
func TestConversationUpdatedCountsAfterANodeWithoutListeners(t *testing.T) {
	env := rtStart(t)
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := rtConv(t, env, alice, "bob")
	updateAt := func(s *rtSocket, seq uint64) engine.ConversationUpdate {
		t.Helper()
		var got engine.ConversationUpdate
		s.nextWhere("conversation.updated", func(f rtFrame) bool {
			var u engine.ConversationUpdate
			f.decode(t, &u)
			got = u
			return u.Seq == seq
		})
		return got
	}
	s := rtDial(t, env)
	s.subscribe(env, alice, "private-user.alice")
	m1 := rtSend(t, env, bob, conv, "m1")
	if u := updateAt(s, m1.Seq); u.Conversation.UnreadCount != 1 || u.Summary.UnreadTotal != 1 {
		t.Fatalf("after m1: unread %d, total %d; want 1, 1", u.Conversation.UnreadCount, u.Summary.UnreadTotal)
	}
	rtCloseAndWait(t, env, s, 0)
	rtSend(t, env, bob, conv, "m2") // nobody connected: not delivered
	s2 := rtDial(t, env)
	s2.subscribe(env, alice, "private-user.alice")
	m3 := rtSend(t, env, bob, conv, "m3")
	if u := updateAt(s2, m3.Seq); u.Conversation.UnreadCount != 3 || u.Summary.UnreadTotal != 3 {
		t.Fatalf("after m3: unread %d, total %d; want 3, 3 (the API's)", u.Conversation.UnreadCount, u.Summary.UnreadTotal)
	}
}
