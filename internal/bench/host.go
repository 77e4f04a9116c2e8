package bench

import (
	"os"
	"strconv"
	"strings"
)

// hostCPU is the machine's CPU time so far, in clock ticks, from the
// aggregate "cpu" line of /proc/stat: all of it, and the part the hypervisor
// gave to other guests while this one had work to run (steal). A measured
// window's steal share says how much of the machine the run did not get, so
// a tail that follows it is the host's, not the server's.
type hostCPU struct{ total, steal uint64 }

// readHostCPU reads /proc/stat (zero when it cannot).
func readHostCPU() hostCPU {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return hostCPU{}
	}
	return parseHostCPU(string(raw))
}

// parseHostCPU reads the aggregate line of a /proc/stat text: user, nice,
// system, idle, iowait, irq, softirq and steal (guest time is already inside
// user and nice, so it is not added again).
func parseHostCPU(stat string) hostCPU {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return hostCPU{}
	}
	var h hostCPU
	for i, s := range f[1:9] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return hostCPU{}
		}
		h.total += v
		if i == 7 {
			h.steal = v
		}
	}
	return h
}

// stealPct is the share, in percent, of the machine's CPU time between a and
// b that was stolen; nil when /proc/stat could not say.
func stealPct(a, b hostCPU) *float64 {
	if a.total == 0 || b.total <= a.total || b.steal < a.steal {
		return nil
	}
	p := 100 * float64(b.steal-a.steal) / float64(b.total-a.total)
	return &p
}

// stealSince is stealPct from h to now.
func (h hostCPU) stealSince() *float64 { return stealPct(h, readHostCPU()) }
