package engine

import (
	"math"
	"sort"
	"strings"
)

// SearchCandidate is a message that matches a search, as ranking needs it.
type SearchCandidate struct {
	Seq  uint64
	Body string
}

// BM25's parameters.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// RankCandidates orders candidates (newest first, as the index gives them)
// best first by BM25 computed over the candidates themselves: a term's
// weight is how rare it is among them, a body's length is measured against
// theirs. Newest first among equals. It returns the page from offset, and
// whether more follow.
func RankCandidates(cands []SearchCandidate, terms []SearchTerm, offset, limit int) ([]SearchCandidate, bool) {
	var want []SearchTerm
	for _, t := range terms {
		for _, f := range strings.FieldsFunc(t.Text, func(r rune) bool { return !wordChar(r) }) {
			want = append(want, SearchTerm{Text: fold(f), Prefix: t.Prefix})
		}
	}
	type doc struct {
		tf  []int
		len int
	}
	docs := make([]doc, len(cands))
	df := make([]int, len(want))
	total := 0
	for i, c := range cands {
		d := doc{tf: make([]int, len(want))}
		for _, w := range strings.FieldsFunc(c.Body, func(r rune) bool { return !wordChar(r) }) {
			d.len++
			f := fold(w)
			for j, t := range want {
				if f == t.Text || (t.Prefix && strings.HasPrefix(f, t.Text)) {
					d.tf[j]++
				}
			}
		}
		for j := range want {
			if d.tf[j] > 0 {
				df[j]++
			}
		}
		total += d.len
		docs[i] = d
	}
	avg := max(float64(total)/float64(max(len(cands), 1)), 1)
	n := float64(len(cands))
	score := make([]float64, len(cands))
	for i, d := range docs {
		for j := range want {
			if d.tf[j] == 0 {
				continue
			}
			idf := math.Log(1 + (n-float64(df[j])+0.5)/(float64(df[j])+0.5))
			tf := float64(d.tf[j])
			score[i] += idf * tf * (bm25K1 + 1) / (tf + bm25K1*(1-bm25B+bm25B*float64(d.len)/avg))
		}
	}
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return score[order[a]] > score[order[b]] })
	if offset >= len(order) {
		return nil, false
	}
	end := min(offset+limit, len(order))
	page := make([]SearchCandidate, 0, end-offset)
	for _, i := range order[offset:end] {
		page = append(page, cands[i])
	}
	return page, end < len(order)
}
