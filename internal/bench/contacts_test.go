package bench

import (
	"math"
	"testing"
)

// The connections workload's contact layout gives each user about the
// contacts asked for, spread over several conversations, and never puts
// two users in more than one conversation together.
func TestContactGroups(t *testing.T) {
	for _, c := range []struct{ n, k, rounds int }{{10000, 20, 5}, {1000, 20, 3}, {500, 3, 3}, {50, 100, 1}} {
		groups := contactGroups(c.n, c.k)
		pairs := map[[2]int]bool{}
		perUser := make([]int, c.n)
		for _, g := range groups {
			for _, a := range g {
				perUser[a]++
				for _, b := range g {
					if a < b {
						if pairs[[2]int{a, b}] {
							t.Fatalf("n=%d k=%d: users %d and %d share two conversations", c.n, c.k, a, b)
						}
						pairs[[2]int{a, b}] = true
					}
				}
			}
		}
		mean := meanContacts(c.n, groups)
		want := math.Min(float64(c.k), float64(c.n-1))
		if mean < want*0.9 || mean > want*1.5 {
			t.Errorf("n=%d k=%d: %.1f contacts per user, want about %v", c.n, c.k, mean, want)
		}
		if perUser[0] != c.rounds {
			t.Errorf("n=%d k=%d: user 0 is in %d conversations, want %d", c.n, c.k, perUser[0], c.rounds)
		}
	}
}
