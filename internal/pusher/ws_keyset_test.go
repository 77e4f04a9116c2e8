package pusher

import (
	"slices"
	"testing"
)

// A keySet holds each key once, keeps the others in order when one goes,
// and says whether a removed key was there.
func TestKeySet(t *testing.T) {
	var s keySet
	s.add("a")
	s.add("b")
	s.add("a")
	s.add("c")
	if !slices.Equal(s, keySet{"a", "b", "c"}) || !s.has("b") || s.has("d") {
		t.Fatalf("after adds: %q", s)
	}
	if !s.remove("b") || s.remove("b") || s.has("b") {
		t.Fatalf("remove b: %q", s)
	}
	if !slices.Equal(s, keySet{"a", "c"}) {
		t.Fatalf("after remove: %q", s)
	}
}
