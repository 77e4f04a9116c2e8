package pusher

import "slices"

// keySet is a socket's small set of channel keys. A socket holds at most
// 100 subscriptions, and usually one or two, so a slice searched in full is
// both fast enough and a few hundred bytes smaller than a map, which counts
// for idle sockets by the thousand.
type keySet []string

func (s keySet) has(k string) bool { return slices.Contains(s, k) }

// add puts k in the set unless it is there.
func (s *keySet) add(k string) {
	if !s.has(k) {
		*s = append(*s, k)
	}
}

// remove takes k out of the set and reports whether it was there.
func (s *keySet) remove(k string) bool {
	i := slices.Index(*s, k)
	if i < 0 {
		return false
	}
	*s = slices.Delete(*s, i, i+1)
	return true
}
