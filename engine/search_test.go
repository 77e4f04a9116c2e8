package engine

import (
	"strings"
	"testing"
)

func TestMatchExpressionQuotesEveryTerm(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`cafe`, `"cafe"`},
		{`AND OR (`, `"AND" "OR"`},
		{`body:cafe`, `"body" "cafe"`},
		{`say "hi"`, `"say" "hi"`},
		{`caf*`, `"caf"*`},
		{`NEAR(a b`, `"NEAR" "a" "b"`},
		{`"x*`, `"x"`},
		{`abc*`, `"abc"*`},
		{`Café-crème`, `"Café" "crème"`},
		{`!!! ???`, ``},
		{strings.Repeat("w ", 12), strings.TrimSpace(strings.Repeat(`"w" `, MaxSearchTerms))},
	} {
		got, ok := MatchExpression(c.in)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("MatchExpression(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
}

func TestSnippetMarksFoldedMatches(t *testing.T) {
	parts := Snippet("Le Café ouvre à neuf heures", []SearchTerm{{Text: "cafe"}})
	want := []SnippetPart{{Text: "Le "}, {Text: "Café", Match: true}, {Text: " ouvre à neuf heures"}}
	if len(parts) != len(want) {
		t.Fatalf("parts %+v, want %+v", parts, want)
	}
	for i := range want {
		if parts[i] != want[i] {
			t.Fatalf("parts %+v, want %+v", parts, want)
		}
	}
	// A long body is cut around the first match, with an ellipsis where it
	// was cut, and a prefix matches the start of a word.
	var words []string
	for i := range 100 {
		words = append(words, "word")
		if i == 60 {
			words = append(words, "Needlework")
		}
	}
	parts = Snippet(strings.Join(words, " "), []SearchTerm{{Text: "needle", Prefix: true}})
	text := ""
	marked := 0
	for _, p := range parts {
		text += p.Text
		if p.Match {
			marked++
			if p.Text != "Needlework" {
				t.Fatalf("marked %q", p.Text)
			}
		}
	}
	if marked != 1 || !strings.HasPrefix(text, "…") || !strings.HasSuffix(text, "…") || len(strings.Fields(text)) > SnippetWords+2 {
		t.Fatalf("snippet %q", text)
	}
}

func TestRankCandidatesPrefersDenserMatchesThenNewer(t *testing.T) {
	cands := []SearchCandidate{ // newest first, as the index gives them
		{Seq: 9, Body: "a long message that mentions the cafe once among many other words here"},
		{Seq: 8, Body: "cafe cafe"},
		{Seq: 7, Body: "the cafe"},
		{Seq: 6, Body: "the cafe"},
	}
	page, more := RankCandidates(cands, []SearchTerm{{Text: "café"}}, 0, 3)
	var got []uint64
	for _, c := range page {
		got = append(got, c.Seq)
	}
	if len(got) != 3 || got[0] != 8 || got[1] != 7 || got[2] != 6 || !more {
		t.Fatalf("ranked %v (more %v), want [8 7 6] and more", got, more)
	}
	if rest, more := RankCandidates(cands, []SearchTerm{{Text: "cafe"}}, 3, 3); len(rest) != 1 || rest[0].Seq != 9 || more {
		t.Fatalf("second page %+v %v", rest, more)
	}
}
