package pusher

import "testing"

// The per-address cap counts an IPv4 address as itself (however it is
// written) and an IPv6 address by its /64 (zone dropped).
func TestCapKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":          "203.0.113.7",
		"::ffff:203.0.113.7":   "203.0.113.7",
		"::FFFF:203.0.113.7":   "203.0.113.7",
		"2001:db8:1:2::1":      "2001:db8:1:2::/64",
		"2001:DB8:1:2:aaaa::7": "2001:db8:1:2::/64",
		"fe80::1%eth0":         "fe80::/64",
		"not an address":       "not an address",
	} {
		if got := capKey(in); got != want {
			t.Errorf("capKey(%q) = %q, want %q", in, got, want)
		}
	}
}
