package profiling

import (
	"fmt"
	"os"
	"strings"
)

// PeakRSSKiB is the process's peak resident set since it started (or last
// exec'd), in KiB, from /proc/self/status; 0 where that is not available. A
// parent's rusage of its child is no substitute: Linux counts the memory
// the child shared with its parent before exec in the child's maximum.
func PeakRSSKiB() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		var kib int64
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kib); err == nil {
			return kib
		}
	}
	return 0
}
