package node

import (
	"context"
	"fmt"
	"os"

	"parley/projections"
)

// version is the projection version this node builds.
func (m *Node) version() int {
	if m.Config.ProjectionVersion > 0 {
		return m.Config.ProjectionVersion
	}
	return projections.Version
}

// checkVersion returns the version that built the live database, recording
// the current one on a database that is still empty.
func (m *Node) checkVersion(ctx context.Context) (int, error) {
	built, err := m.db.BuiltVersion(ctx)
	if err != nil {
		return 0, err
	}
	if built == 0 && m.db.Applied() == 0 {
		built = m.version()
		return built, m.db.SetBuiltVersion(ctx, built)
	}
	return built, nil
}

// upgrader is a background rebuild of the read models.
type upgrader struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the rebuild ended
	err    error
}

// catchUpGap is how close (in events) the rebuild gets to the live tail
// before the projector pauses for the final catch-up and the swap.
const catchUpGap = 2000

// startUpgrade rebuilds the read models with the current apply functions
// into a new file while the old one keeps serving, then swaps.
func (m *Node) startUpgrade(from int) {
	ctx, cancel := context.WithCancel(context.Background())
	u := &upgrader{cancel: cancel, done: make(chan struct{})}
	m.upgrade = u
	logger := m.Logger.With("component", "upgrade", "from_version", from, "to_version", m.version())
	logger.Info("read models were built by an older version: rebuilding from the log in the background")
	go func() {
		err := m.rebuildAndSwap(ctx)
		if err != nil {
			logger.Error("rebuild failed; the old read models keep serving", "err", err)
		} else {
			logger.Info("rebuilt read models swapped in", "path", m.db.Path(), "applied_seq", m.db.Applied())
		}
		u.err = err
		close(u.done)
	}()
}

// Upgrading reports whether a background rebuild started, and waits for it
// and returns its result when wait is set.
func (m *Node) Upgrading(wait bool) (started bool, err error) {
	if m.upgrade == nil {
		return false, nil
	}
	if wait {
		<-m.upgrade.done
		return true, m.upgrade.err
	}
	return true, nil
}

// stopUpgrade cancels a background rebuild and waits for it to end.
func (m *Node) stopUpgrade() {
	if m.upgrade != nil {
		m.upgrade.cancel()
		<-m.upgrade.done
	}
}

func (m *Node) rebuildAndSwap(ctx context.Context) (err error) {
	log := m.conn.Log()
	path := projections.NextPath(m.Config.DataDir, m.version())
	nd, err := projections.OpenBulk(ctx, path)
	if err != nil {
		return err
	}
	built := false
	defer func() {
		if err != nil {
			if !built {
				nd.Close()
			}
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				os.Remove(p)
			}
		}
	}()
	for round := 0; ; round++ {
		last, err := log.LastSeq(ctx)
		if err != nil {
			return err
		}
		if err := projections.Rebuild(ctx, nd, log.ReadRange, 1, last, nil); err != nil {
			return err
		}
		now, err := log.LastSeq(ctx)
		if err != nil {
			return err
		}
		if now-nd.Applied() < catchUpGap || round >= 20 {
			break
		}
	}
	m.projMu.Lock()
	defer m.projMu.Unlock()
	if m.closing {
		return context.Canceled
	}
	// Pause the live projector, bring the rebuild to the very tail, swap.
	m.stopProjector()
	defer m.startProjector()
	last, err := log.LastSeq(ctx)
	if err != nil {
		return err
	}
	if err := projections.Rebuild(ctx, nd, log.ReadRange, 1, max(last, m.db.Applied()), nil); err != nil {
		return err
	}
	if m.ops != nil { // the notifications projector commits nothing from here to the switch
		m.ops.view.Pause()
		defer m.ops.view.Resume()
	}
	if err := m.rebuildNotifications(ctx, nd); err != nil {
		return err
	}
	built = true
	if err := nd.CloseBuilt(ctx, m.version()); err != nil {
		return err
	}
	if err := m.db.Swap(ctx, m.Config.DataDir, path); err != nil {
		return fmt.Errorf("swap: %w", err)
	}
	// New apply functions may accept or reject events differently: what the
	// memory of recent events says of them came from the old ones.
	m.recent.Reset()
	m.members.Reset()
	if m.rt != nil {
		m.rt.dispatcher.Reset() // its counts missed the events the rebuild applied
	}
	return nil
}
