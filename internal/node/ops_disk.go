package node

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"parley/api"
	"parley/internal/diskspace"
)

// diskComponent names the data directory's filesystem in the node's health.
const diskComponent = "data directory"

// diskSampleEvery is how often the node looks at its data directory's free
// space.
const diskSampleEvery = 10 * time.Second

// diskWatch holds the latest sample of the data directory's filesystem.
type diskWatch struct {
	last atomic.Pointer[diskspace.Usage]
}

// sampleDisk reads the data directory's free space and warns (low_space)
// while it is below --low-space-mb: before JetStream and SQLite start
// refusing writes, not after.
func (m *Node) sampleDisk() {
	u, err := diskspace.Of(m.Config.DataDir)
	if err != nil {
		m.disk.last.Store(nil)
		return
	}
	m.disk.last.Store(&u)
	limit := uint64(m.Config.LowSpaceMB) << 20
	if limit > 0 && u.Free < limit {
		m.health.warn(diskComponent, ReasonLowSpace, fmt.Errorf("%d MiB free of %d MiB in %s, below --low-space-mb %d",
			u.Free>>20, u.Total>>20, m.Config.DataDir, m.Config.LowSpaceMB))
		return
	}
	m.health.clear(diskComponent)
}

// watchDisk samples the data directory every diskSampleEvery until ctx ends.
func (m *Node) watchDisk(ctx context.Context) {
	t := time.NewTicker(diskSampleEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.sampleDisk()
		}
	}
}

// diskStats is the latest sample for the stats (nil when the system cannot
// say).
func (m *Node) diskStats() *api.DiskStats {
	u := m.disk.last.Load()
	if u == nil {
		return nil
	}
	return &api.DiskStats{Path: m.Config.DataDir, TotalBytes: u.Total, FreeBytes: u.Free, LowSpaceBytes: uint64(m.Config.LowSpaceMB) << 20}
}
