package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"parley/engine"
	"parley/internal/testkit"
)

// reactPath is the reaction route of a message for emoji.
func reactPath(conv, msg, emoji string) string {
	return "/api/messages/" + conv + "/" + msg + "/reactions/" + url.PathEscape(emoji)
}

// react puts (on) or takes back a reaction and returns the message.
func react(t *testing.T, env *testkit.Env, tok, conv, msg, emoji string, on bool) engine.Message {
	t.Helper()
	method := "PUT"
	if !on {
		method = "DELETE"
	}
	var m engine.Message
	env.MustDo(http.StatusOK, method, reactPath(conv, msg, emoji), tok, nil, &m)
	return m
}

// reactions renders a message's reactions as "emoji:count:me" strings.
func reactions(m engine.Message) []string {
	var out []string
	for _, r := range m.Reactions {
		out = append(out, fmt.Sprintf("%s:%d:%v", r.Emoji, r.Count, r.Me))
	}
	return out
}

// Reactions count per key in the order first put, say whether the caller
// holds each, change once however often a change is asked for (one after
// the other or all at once), reach the delta, and rebuild equal.
func TestReactionsAreCountedOnceAndRebuildEqual(t *testing.T) {
	env := opsStart(t)
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := createConv(t, env, alice, "room", "bob")
	m := sendMsg(t, env, alice, conv, "react to me", "m")

	before := logLast(t, env)
	got := react(t, env, bob, conv, m.ID, "👍", true)
	if want := []string{"👍:1:true"}; !slices.Equal(reactions(got), want) {
		t.Fatalf("bob's 👍: %v, want %v", reactions(got), want)
	}
	react(t, env, bob, conv, m.ID, "👍", true) // again: nothing changes
	if n := logLast(t, env) - before; n != 1 {
		t.Fatalf("putting one reaction twice appended %d events, want 1", n)
	}
	react(t, env, alice, conv, m.ID, "👍", true)
	got = react(t, env, alice, conv, m.ID, "🎉", true)
	if want := []string{"👍:2:true", "🎉:1:true"}; !slices.Equal(reactions(got), want) {
		t.Fatalf("alice's view: %v, want %v", reactions(got), want)
	}
	if h, want := historyMessage(t, env, bob, conv, m.ID), []string{"👍:2:true", "🎉:1:false"}; !slices.Equal(reactions(h), want) {
		t.Fatalf("bob's history: %v, want %v", reactions(h), want)
	}

	// Taking back twice changes it once; a key nobody holds disappears.
	before = logLast(t, env)
	react(t, env, alice, conv, m.ID, "🎉", false)
	got = react(t, env, alice, conv, m.ID, "🎉", false)
	if n := logLast(t, env) - before; n != 1 || !slices.Equal(reactions(got), []string{"👍:2:true"}) {
		t.Fatalf("taking back twice: %d events, reactions %v", n, reactions(got))
	}

	// Eight requests at once for the same change append it once, both ways.
	for _, on := range []bool{true, false, true} {
		before = logLast(t, env)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				method := map[bool]string{true: "PUT", false: "DELETE"}[on]
				if r := env.Do(method, reactPath(conv, m.ID, "❤️"), bob, nil); r.Status != http.StatusOK {
					t.Errorf("concurrent %s: %d %s", method, r.Status, r.Body)
				}
			}()
		}
		wg.Wait()
		if n := logLast(t, env) - before; n != 1 {
			t.Fatalf("eight concurrent changes to %v appended %d events, want 1", on, n)
		}
	}
	if h, want := historyMessage(t, env, alice, conv, m.ID), []string{"👍:2:true", "❤️:1:false"}; !slices.Equal(reactions(h), want) {
		t.Fatalf("after the concurrent changes: %v, want %v", reactions(h), want)
	}

	// The delta holds each change once, as a change.
	var changes []string
	for _, ev := range delta(t, env, alice, conv, "after_seq="+fmt.Sprint(m.Seq)).Events {
		if ev.Type == engine.MessageReacted {
			changes = append(changes, fmt.Sprintf("%s %s %v", ev.Data["user_id"], ev.Data["emoji"], ev.Data["reacted"]))
		}
	}
	want := []string{"bob 👍 true", "alice 👍 true", "alice 🎉 true", "alice 🎉 false", "bob ❤️ true", "bob ❤️ false", "bob ❤️ true"}
	if !slices.Equal(changes, want) {
		t.Fatalf("delta reactions:\n got %v\nwant %v", changes, want)
	}

	assertReadModelsEqualTheLog(t, env)
}

// A message holds at most 20 different keys; keys are checked; a deleted
// message takes no reaction; refusals append nothing.
func TestReactionsRefuseWhatTheyCannotHold(t *testing.T) {
	env := testkit.Start(t)
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := createConv(t, env, alice, "room", "bob")
	m := sendMsg(t, env, alice, conv, "many", "m")
	for i := range 20 {
		react(t, env, alice, conv, m.ID, fmt.Sprintf("k%d", i), true)
	}
	before := logLast(t, env)
	if r := env.Do("PUT", reactPath(conv, m.ID, "k20"), bob, nil); r.Status != http.StatusConflict || r.ErrorCode() != "too_many_reactions" {
		t.Fatalf("a 21st key: %d %s, want 409 too_many_reactions", r.Status, r.Body)
	}
	// A key the message holds can still be put by another.
	if got := react(t, env, bob, conv, m.ID, "k3", true); len(got.Reactions) != 20 || got.Reactions[3] != (engine.Reaction{Emoji: "k3", Count: 2, Me: true}) {
		t.Fatalf("bob's k3: %+v", got.Reactions)
	}

	base := "/api/messages/" + conv + "/" + m.ID + "/reactions/"
	for _, c := range []struct{ name, raw string }{
		{"33 bytes", url.PathEscape(strings.Repeat("x", 33))},
		{"a space", "a%20b"},
		{"a control character", "%01"},
		{"invalid UTF-8", "%FF"},
		{"a right-to-left override", url.PathEscape("\u202Eab")},
		{"an encoded slash", "a%2Fb"},
		{"a percent sign", "%25"},
	} {
		r := env.Do("PUT", base+c.raw, bob, nil)
		if r.Status != http.StatusUnprocessableEntity || r.ErrorCode() != "invalid_reaction" {
			t.Errorf("key with %s (%s): %d %s, want 422 invalid_reaction", c.name, c.raw, r.Status, r.Body)
		}
	}
	// The longest keys that are allowed: a family and a flag.
	for _, k := range []string{"👨‍👩‍👧‍👦", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"} {
		react(t, env, bob, conv, sendMsg(t, env, alice, conv, "for "+k, "for-"+fmt.Sprint(len(k))).ID, k, true)
	}

	env.MustDo(http.StatusOK, "DELETE", "/api/messages/"+conv+"/"+m.ID, alice, nil, nil)
	before = logLast(t, env)
	if r := env.Do("PUT", reactPath(conv, m.ID, "k1"), bob, nil); r.Status != http.StatusConflict || r.ErrorCode() != "message_deleted" {
		t.Fatalf("reacting to a deleted message: %d %s, want 409 message_deleted", r.Status, r.Body)
	}
	if r := env.Do("PUT", reactPath(conv, "01ARZ3NDEKTSV4RRFFQ69G5FAV", "k1"), bob, nil); r.Status != http.StatusNotFound || r.ErrorCode() != "message_not_found" {
		t.Fatalf("reacting to an unknown message: %d %s, want 404 message_not_found", r.Status, r.Body)
	}
	if logLast(t, env) != before {
		t.Fatal("refused reactions appended events")
	}
}

// A reaction reaches the conversation's sockets and the SSE stream as
// message.reacted.
func TestReactionsGoLive(t *testing.T) {
	env := rtStart(t)
	alice, bob := env.Token("alice"), env.Token("bob")
	conv := rtConv(t, env, alice, "bob")
	m := rtSend(t, env, alice, conv, "live")
	sock := rtDial(t, env)
	sock.subscribe(env, bob, "private-conversation."+conv)
	stream := rtOpenStream(t, env, bob, "")

	react(t, env, alice, conv, m.ID, "🔥", true)
	want := engine.ReactionChange{MessageID: m.ID, UserID: "alice", Emoji: "🔥", Reacted: true}
	var wire struct {
		Type engine.EventType      `json:"type"`
		Data engine.ReactionChange `json:"data"`
	}
	sock.next("message.reacted").decode(t, &wire)
	if wire.Type != engine.MessageReacted || wire.Data != want {
		t.Fatalf("socket: %+v, want %+v", wire, want)
	}
	evs := stream.until("message.reacted")
	if err := json.Unmarshal([]byte(evs[len(evs)-1].Data), &wire); err != nil || wire.Data != want {
		t.Fatalf("SSE: %s (%v), want %+v", evs[len(evs)-1].Data, err, want)
	}
}
