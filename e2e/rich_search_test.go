package e2e_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"parley/engine"
	"parley/internal/testkit"
)

// search runs a search with raw query parameters and expects 200.
func search(t *testing.T, env *testkit.Env, tok string, params url.Values) engine.SearchPage {
	t.Helper()
	var p engine.SearchPage
	env.MustDo(http.StatusOK, "GET", "/api/search?"+params.Encode(), tok, nil, &p)
	return p
}

// hitIDs lists the ids of a page's messages.
func hitIDs(p engine.SearchPage) []string {
	var out []string
	for _, h := range p.Hits {
		out = append(out, h.Message.ID)
	}
	return out
}

// Search finds words in the bodies the caller can see (not other
// conversations'), follows edits and deletions, marks the matched terms,
// ranks the better match first, pages, and turns the index's query
// language and bad input into plain answers, never a 500.
func TestSearchFindsWhatTheCallerCanSee(t *testing.T) {
	env := testkit.Start(t)
	alice, bob, carol := env.Token("alice"), env.Token("bob"), env.Token("carol")
	ab := createConv(t, env, alice, "ab", "bob")
	ac := createConv(t, env, alice, "ac", "carol")
	m1 := sendMsg(t, env, alice, ab, "The café opens at nine", "m1")
	m2 := sendMsg(t, env, bob, ab, "cafe cafe cafe, all day long", "m2")
	secret := sendMsg(t, env, alice, ac, "the cafe is a secret", "m3")

	// Accents are folded; bob sees his conversation only; the better match
	// (three times the word in a shorter body) comes first.
	p := search(t, env, bob, url.Values{"q": {"CAFE"}})
	if got, want := hitIDs(p), []string{m2.ID, m1.ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("bob's hits %v, want %v (never %s)", got, want, secret.ID)
	}
	var marked []string
	for _, part := range p.Hits[1].Snippet {
		if part.Match {
			marked = append(marked, part.Text)
		}
	}
	if fmt.Sprint(marked) != "[café]" || !strings.Contains(p.Hits[1].Snippet[0].Text, "The ") {
		t.Fatalf("snippet %+v: want café marked", p.Hits[1].Snippet)
	}
	// Alice sees both conversations; one conversation narrows it.
	if got := hitIDs(search(t, env, alice, url.Values{"q": {"cafe"}})); len(got) != 3 {
		t.Fatalf("alice's hits %v", got)
	}
	if got := hitIDs(search(t, env, alice, url.Values{"q": {"cafe"}, "conversation_id": {ac}})); fmt.Sprint(got) != fmt.Sprint([]string{secret.ID}) {
		t.Fatalf("in one conversation: %v", got)
	}
	if r := env.Do("GET", "/api/search?q=cafe&conversation_id="+ac, bob, nil); r.Status != http.StatusNotFound || strings.Contains(string(r.Body), "secret") {
		t.Fatalf("bob searching alice and carol's conversation: %d %s", r.Status, r.Body)
	}
	// All words are required; a prefix matches; before bounds the time.
	if got := hitIDs(search(t, env, alice, url.Values{"q": {"cafe nine"}})); fmt.Sprint(got) != fmt.Sprint([]string{m1.ID}) {
		t.Fatalf("two words: %v", got)
	}
	if got := hitIDs(search(t, env, alice, url.Values{"q": {"secr*"}})); fmt.Sprint(got) != fmt.Sprint([]string{secret.ID}) {
		t.Fatalf("prefix: %v", got)
	}
	if got := hitIDs(search(t, env, bob, url.Values{"q": {"cafe"}, "before": {m2.ID}})); fmt.Sprint(got) != fmt.Sprint([]string{m1.ID}) {
		t.Fatalf("before m2: %v", got)
	}

	// Edits and deletions follow.
	env.MustDo(http.StatusOK, "PATCH", "/api/messages/"+ab+"/"+m1.ID, alice, map[string]string{"body": "The tearoom opens at nine"}, nil)
	if got := hitIDs(search(t, env, bob, url.Values{"q": {"tearoom"}})); fmt.Sprint(got) != fmt.Sprint([]string{m1.ID}) {
		t.Fatalf("the edit's new word: %v", got)
	}
	env.MustDo(http.StatusOK, "DELETE", "/api/messages/"+ab+"/"+m2.ID, bob, nil, nil)
	if got := hitIDs(search(t, env, bob, url.Values{"q": {"cafe"}})); len(got) != 0 {
		t.Fatalf("after the edit and the deletion: %v", got)
	}

	// Paging: 25 matches, 10 a page.
	for i := range 25 {
		sendMsg(t, env, alice, ab, fmt.Sprintf("page word %d", i), fmt.Sprint("p", i))
	}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		v := url.Values{"q": {"page"}, "limit": {"10"}}
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		p := search(t, env, bob, v)
		for _, id := range hitIDs(p) {
			if seen[id] {
				t.Fatalf("hit %s twice", id)
			}
			seen[id] = true
		}
		if p.NextCursor == nil {
			if pages != 2 {
				t.Fatalf("%d pages, want 3", pages+1)
			}
			break
		}
		cursor = *p.NextCursor
	}
	if len(seen) != 25 {
		t.Fatalf("%d hits over the pages, want 25", len(seen))
	}

	// The index's query language is not the API's.
	for _, q := range []string{`AND OR (`, `"unbalanced`, `NEAR(a b`, `body:cafe`, `*`, `-cafe`, `cafe^2`, `a"b`} {
		if r := env.Do("GET", "/api/search?q="+url.QueryEscape(q), bob, nil); r.Status != http.StatusOK && r.Status != http.StatusUnprocessableEntity {
			t.Errorf("q=%s: %d %s", q, r.Status, r.Body)
		}
	}
	for _, c := range []struct{ query, code string }{
		{"q=", "query_required"},
		{"q=" + url.QueryEscape("!!! ???"), "invalid_query"},
		{"q=" + strings.Repeat("a", 201), "query_too_long"},
		{"q=%01cafe", "invalid_query"},
		{"q=cafe&limit=51", "invalid_limit"},
	} {
		if r := env.Do("GET", "/api/search?"+c.query, bob, nil); r.Status != http.StatusUnprocessableEntity || r.ErrorCode() != c.code {
			t.Errorf("%s: %d %s, want 422 %s", c.query, r.Status, r.Body, c.code)
		}
	}
	for _, query := range []string{"q=cafe&cursor=x", "q=cafe&before=nope", "q=cafe&before=" + secret.ID} {
		if r := env.Do("GET", "/api/search?"+query, bob, nil); r.Status != http.StatusBadRequest || r.ErrorCode() != "unknown_cursor" {
			t.Errorf("%s: %d %s, want 400 unknown_cursor", query, r.Status, r.Body)
		}
	}
	if r := env.Do("GET", "/api/search?q=cafe", carol, nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), secret.ID) || strings.Contains(string(r.Body), m1.ID) {
		t.Fatalf("carol: %d %s", r.Status, r.Body)
	}
}
