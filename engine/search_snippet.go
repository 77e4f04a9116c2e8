package engine

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// SearchTerm is one word of a search: matched whole, or as a prefix.
type SearchTerm struct {
	Text   string
	Prefix bool
}

// SnippetWords is about how many words of a body a snippet shows.
const SnippetWords = 24

// fold is a word as the search index compares it: lower case, without
// diacritics.
func fold(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// wordChar reports whether r is part of a word for the index's tokenizer
// (letters, digits and the marks that go with them).
func wordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Co, r)
}

// Snippet cuts the part of body around its first word that matches terms,
// about SnippetWords words, into plain and matched parts ("…" where it cut).
func Snippet(body string, terms []SearchTerm) []SnippetPart {
	type word struct {
		start, end int
		match      bool
	}
	var want []SearchTerm
	for _, t := range terms {
		for _, f := range strings.FieldsFunc(t.Text, func(r rune) bool { return !wordChar(r) }) {
			want = append(want, SearchTerm{Text: fold(f), Prefix: t.Prefix})
		}
	}
	var words []word
	first := -1
	start := -1
	for i, r := range body + " " {
		switch {
		case i < len(body) && wordChar(r):
			if start < 0 {
				start = i
			}
		case start >= 0:
			w := word{start: start, end: i}
			f := fold(body[start:i])
			for _, t := range want {
				if f == t.Text || (t.Prefix && strings.HasPrefix(f, t.Text)) {
					w.match = true
					break
				}
			}
			if w.match && first < 0 {
				first = len(words)
			}
			words = append(words, w)
			start = -1
		}
	}
	if len(words) == 0 {
		return []SnippetPart{{Text: body}}
	}
	from := max(0, first-SnippetWords/3)
	to := min(len(words), from+SnippetWords)
	from = max(0, min(from, to-SnippetWords))
	var parts []SnippetPart
	add := func(text string, match bool) {
		if text == "" {
			return
		}
		if n := len(parts); n > 0 && !parts[n-1].Match && !match {
			parts[n-1].Text += text
			return
		}
		parts = append(parts, SnippetPart{Text: text, Match: match})
	}
	pos := words[from].start
	if from > 0 {
		add("…", false)
	} else {
		pos = 0
	}
	end := len(body)
	if to < len(words) {
		end = words[to-1].end
	}
	for _, w := range words[from:to] {
		add(body[pos:w.start], false)
		add(body[w.start:w.end], w.match)
		pos = w.end
	}
	add(body[pos:end], false)
	if to < len(words) {
		add("…", false)
	}
	return parts
}
