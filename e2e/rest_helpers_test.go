package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"parley/engine"
	"parley/internal/testkit"
)

// createConv creates a conversation as tok's user with the other ids and
// returns its id.
func createConv(t *testing.T, env *testkit.Env, tok string, title string, others ...string) string {
	t.Helper()
	var d engine.ConversationDetail
	env.MustDo(http.StatusCreated, "POST", "/api/conversations", tok,
		map[string]any{"participant_ids": others, "title": title}, &d)
	return d.ID
}

// sendMsg sends a message and expects 201.
func sendMsg(t *testing.T, env *testkit.Env, tok, conv, body, temp string) engine.Message {
	t.Helper()
	var m engine.Message
	env.MustDo(http.StatusCreated, "POST", "/api/messages/"+conv, tok,
		map[string]string{"body": body, "client_temp_id": temp}, &m)
	return m
}

// unreadTotal reads the user's summary.unread_total from the conversation list.
func unreadTotal(t *testing.T, env *testkit.Env, tok string) int64 {
	t.Helper()
	var l engine.ConversationList
	env.MustDo(http.StatusOK, "GET", "/api/conversations", tok, nil, &l)
	return l.Summary.UnreadTotal
}

// unreadIn reads the user's unread_count for one conversation.
func unreadIn(t *testing.T, env *testkit.Env, tok, conv string) int64 {
	t.Helper()
	var l engine.ConversationList
	env.MustDo(http.StatusOK, "GET", "/api/conversations?limit=200", tok, nil, &l)
	for _, c := range l.Conversations {
		if c.ID == conv {
			return c.UnreadCount
		}
	}
	t.Fatalf("conversation %s not in the list", conv)
	return 0
}

// markRead moves tok's read marker and returns the answer.
func markRead(t *testing.T, env *testkit.Env, tok, conv, msgID string) engine.ReadState {
	t.Helper()
	var st engine.ReadState
	env.MustDo(http.StatusOK, "POST", "/api/messages/"+conv+"/read", tok, map[string]string{"message_id": msgID}, &st)
	return st
}

// deltaEvent is one event of a delta answer with its payload as a map.
type deltaEvent struct {
	Seq  uint64           `json:"seq"`
	Type engine.EventType `json:"type"`
	Data map[string]any   `json:"data"`
}

// deltaAnswer is a delta answer as a client decodes it.
type deltaAnswer struct {
	Events       []deltaEvent               `json:"events"`
	Conversation engine.ConversationSummary `json:"conversation"`
	Summary      engine.UserSummary         `json:"summary"`
	HasMore      bool                       `json:"has_more"`
	LastSeq      uint64                     `json:"last_seq"`
}

// delta calls the delta endpoint with a raw query string.
func delta(t *testing.T, env *testkit.Env, tok, conv, query string) deltaAnswer {
	t.Helper()
	var d deltaAnswer
	env.MustDo(http.StatusOK, "GET", "/api/messages/"+conv+"/delta?"+query, tok, nil, &d)
	return d
}

// streamEvents returns every event of a conversation stored in the log,
// skipped ones included.
func streamEvents(t *testing.T, env *testkit.Env, conv string) []engine.Event {
	t.Helper()
	evs, _, err := env.Node.Log().ConversationEvents(t.Context(), conv, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func countType(evs []engine.Event, typ engine.EventType) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// logLast is the sequence of the last event in env's log (not what the
// node has applied: an event appended but not applied yet counts).
func logLast(t *testing.T, env *testkit.Env) uint64 {
	t.Helper()
	seq, err := env.Node.Log().LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func temp(i int) string { return fmt.Sprintf("tmp-%d", i) }

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
