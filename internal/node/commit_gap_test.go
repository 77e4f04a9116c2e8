package node

import (
	"strings"
	"testing"
	"time"
)

// --commit-gap defaults to 1 ms, takes 0 for none (which the projector's
// configuration spells negative), and refuses a negative gap or one a send
// should not wait for.
func TestCommitGapSetting(t *testing.T) {
	c := DefaultConfig()
	if c.CommitGap != time.Millisecond {
		t.Fatalf("default --commit-gap %v, want 1ms", c.CommitGap)
	}
	for gap, want := range map[time.Duration]time.Duration{0: -1, time.Millisecond: time.Millisecond, 50 * time.Millisecond: 50 * time.Millisecond} {
		c.CommitGap = gap
		if err := c.Validate(); err != nil {
			t.Errorf("--commit-gap %v: %v", gap, err)
		}
		if got := (&Node{Config: c}).commitGap(); got != want {
			t.Errorf("--commit-gap %v: the projector's gap %v, want %v", gap, got, want)
		}
	}
	for _, bad := range []time.Duration{-time.Millisecond, 51 * time.Millisecond} {
		c.CommitGap = bad
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--commit-gap") {
			t.Errorf("--commit-gap %v: %v, want an error naming the flag", bad, err)
		}
	}
}
