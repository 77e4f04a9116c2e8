package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"parley/internal/diskspace"
	"parley/streams"
)

// reservation is what one stream reserves in JetStream's store, and the
// flag that bounds it.
type reservation struct {
	stream, flag string
	bytes        int64
}

// reservations are the streams' reservations this configuration makes
// (MESSAGES and NOTIFICATIONS reserve nothing unless bounded).
func (m *Node) reservations() []reservation {
	rs := []reservation{{streams.StatsStream, "--stats-max-mb", int64(m.Config.StatsMaxMB) << 20}}
	if m.Config.MaxLogBytes > 0 {
		rs = append(rs, reservation{streams.StreamName, "--max-log-bytes", m.Config.MaxLogBytes})
	}
	return rs
}

// checkStore refuses to start an embedded JetStream whose streams reserve
// more than it will have: it may use 75 % of the free space it finds at
// start. The error says what is needed, what there is, and which flags
// bound it, where JetStream would say "insufficient storage resources".
func checkStore(dir string, free uint64, rs []reservation) error {
	usable := free / 4 * 3
	var total int64
	for _, r := range rs {
		total += r.bytes
	}
	if total <= 0 || uint64(total) <= usable {
		return nil
	}
	return fmt.Errorf("not enough space in %s: the streams reserve %d MiB (%s) but the embedded JetStream may use %d MiB "+
		"(75%% of the %d MiB free); free some space or lower those flags", dir, total>>20, describe(rs), usable>>20, free>>20)
}

func describe(rs []reservation) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%s %d MiB, %s", r.stream, r.bytes>>20, r.flag)
	}
	return strings.Join(parts, "; ")
}

// checkFreshStore runs checkStore before an embedded JetStream creates its
// store in a new data directory. An existing store is left to JetStream,
// whose refusal storeAdvice explains: its streams' reservations may be
// partly used already, and a node must restart on a disk that has filled.
func (m *Node) checkFreshStore() error {
	store := filepath.Join(m.Config.DataDir, "nats")
	if _, err := os.Stat(store); err == nil || !os.IsNotExist(err) {
		return nil
	}
	u, err := diskspace.Of(m.Config.DataDir)
	if err != nil {
		return nil // the system cannot say: JetStream will
	}
	return checkStore(m.Config.DataDir, u.Free, m.reservations())
}

// storeAdvice adds to JetStream's "insufficient storage resources" (when a
// stream's reservation does not fit) what the streams reserve, the space
// there is, and the flags that bound it.
func (m *Node) storeAdvice(err error) error {
	if !streams.StoreExhausted(err) {
		return err
	}
	advice := "the streams reserve " + describe(m.reservations())
	if u, derr := diskspace.Of(m.Config.DataDir); derr == nil && m.Config.NATSURL == "" {
		advice += fmt.Sprintf("; %s has %d MiB free, of which the embedded JetStream may use 75%%", m.Config.DataDir, u.Free>>20)
	}
	return fmt.Errorf("%w (%s: free some space or lower those flags)", err, advice)
}
