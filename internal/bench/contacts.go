package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// contactGroups lays out group conversations among n users (indices
// 0..n-1) so that each shares conversations with about k others, spread
// over several conversations rather than one clique: write an index in base
// g; round r groups the users whose indices differ in digit r alone. Two
// users then share at most one conversation, and a user has rounds*(g-1)
// contacts (fewer near the end of the range). It takes the most rounds
// whose groups are still distinct (g^rounds <= n) with rounds*(g-1) >= k.
func contactGroups(n, k int) [][]int {
	if n < 2 || k < 1 {
		return nil
	}
	rounds, g := 1, min(k+1, n)
	for r := min(k, 30); r > 1; r-- {
		size := (k+r-1)/r + 1
		if _, ok := powAtMost(size, r, n); ok {
			rounds, g = r, size
			break
		}
	}
	var groups [][]int
	step := 1
	for range rounds {
		for base := 0; base < n; base++ {
			if base/step%g != 0 {
				continue // not the group's first member
			}
			var members []int
			for d := range g {
				if i := base + d*step; i < n {
					members = append(members, i)
				}
			}
			if len(members) > 1 {
				groups = append(groups, members)
			}
		}
		step *= g
	}
	return groups
}

// powAtMost returns b^e, and false once it passes limit.
func powAtMost(b, e, limit int) (int, bool) {
	p := 1
	for range e {
		if p *= b; p > limit {
			return p, false
		}
	}
	return p, true
}

// meanContacts is the mean number of distinct others each of n users
// shares a group with.
func meanContacts(n int, groups [][]int) float64 {
	seen := make([]map[int]struct{}, n)
	for _, g := range groups {
		for _, a := range g {
			if seen[a] == nil {
				seen[a] = map[int]struct{}{}
			}
			for _, b := range g {
				if a != b {
					seen[a][b] = struct{}{}
				}
			}
		}
	}
	total := 0
	for _, s := range seen {
		total += len(s)
	}
	return float64(total) / float64(n)
}

// createGroups creates the group conversations, each by its first member,
// 32 requests at a time; user names a member's index.
func (s *benchServer) createGroups(ctx context.Context, groups [][]int, user func(int) string) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(groups) {
					return
				}
				g := groups[i]
				others := make([]string, 0, len(g)-1)
				for _, m := range g[1:] {
					others = append(others, user(m))
				}
				if _, err := s.do("POST", "/api/conversations", s.token(user(g[0])),
					map[string]any{"participant_ids": others, "title": fmt.Sprint("contacts ", i)}, nil); err != nil {
					once.Do(func() { firstErr = err })
					next.Store(int64(len(groups))) // stop the others
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}
