package engine

import (
	"cmp"
	"slices"
)

// leastRecentFirst lists the keys of m from the least to the most recently
// used, by the use tick each entry carries: the eviction order of the
// node's bounded memories (recent events, members).
func leastRecentFirst[E any](m map[string]E, used func(E) uint64) []string {
	type use struct {
		id   string
		used uint64
	}
	order := make([]use, 0, len(m))
	for id, e := range m {
		order = append(order, use{id, used(e)})
	}
	slices.SortFunc(order, func(a, b use) int { return cmp.Compare(a.used, b.used) })
	ids := make([]string, len(order))
	for i, u := range order {
		ids[i] = u.id
	}
	return ids
}
