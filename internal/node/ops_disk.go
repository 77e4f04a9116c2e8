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
// space (a statfs call).
const diskSampleEvery = 2 * time.Second

// logStoreComponent names the embedded JetStream's store in the node's
// health.
const logStoreComponent = "log store"

// reviveMinFree is the least free space at which the node enables a
// JetStream that disabled itself on a full disk (or --low-space-mb, if
// more).
const reviveMinFree = 64 << 20

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
	m.reviveLog(u.Free)
	if u.Free < reviveMinFree/4 { // nearly full: a store may have met it
		m.sawFullDisk.Store(true)
	}
	limit := uint64(m.Config.LowSpaceMB) << 20
	if limit > 0 && u.Free < limit {
		m.health.warn(diskComponent, ReasonLowSpace, fmt.Errorf("%d MiB free of %d MiB in %s, below --low-space-mb %d",
			u.Free>>20, u.Total>>20, m.Config.DataDir, m.Config.LowSpaceMB))
		return
	}
	m.health.clear(diskComponent)
}

// reviveLog enables the embedded JetStream again once its disk has room:
// on a full disk it disables itself ("JetStream out of space, will be
// DISABLED") and would stay off until a restart. Meanwhile the node is
// degraded (log store, storage_full) and writes answer log_unavailable.
func (m *Node) reviveLog(free uint64) {
	need := max(uint64(m.Config.LowSpaceMB)<<20, reviveMinFree)
	if !m.conn.JetStreamDown() {
		m.reloadStuckLog(free, need)
		return
	}
	if free < need {
		m.health.set(logStoreComponent, ReasonStorageFull, fmt.Errorf("the embedded JetStream disabled itself on a full disk; "+
			"it starts again once %d MiB are free in %s (%d MiB now)", need>>20, m.Config.DataDir, free>>20))
		return
	}
	if err := m.conn.ReviveJetStream(); err != nil {
		m.health.set(logStoreComponent, ReasonStorageFull, fmt.Errorf("enable JetStream again: %w", err))
		return
	}
	m.Logger.Warn("JetStream, disabled by a full disk, is enabled again", "free_mib", free>>20)
	m.health.clear(logStoreComponent)
}

// reloadStuckLog restarts the embedded JetStream when the log refuses
// writes while its disk has room again: a store that met a full disk keeps
// refusing until it is loaded again.
func (m *Node) reloadStuckLog(free, need uint64) {
	// Single embedded node only: a cluster member's JetStream is part of its
	// cluster's quorum, and an external server is its operator's.
	if m.Config.NATSURL != "" || m.Config.ClusterName != "" || free < need || !m.health.has(logWritesComponent) || !m.sawFullDisk.Load() {
		return
	}
	m.Logger.Warn("the log refuses writes since the disk was full: restarting the embedded JetStream", "free_mib", free>>20)
	if err := m.conn.RestartJetStream(); err != nil {
		m.Logger.Error("restart JetStream", "err", err)
		return
	}
	m.sawFullDisk.Store(false)
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
