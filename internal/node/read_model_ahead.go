package node

import (
	"context"
	"fmt"
	"os"
	"time"

	"parley/projections"
)

// checkAhead finds read models that have applied more of the log than the
// log holds: the log lost acknowledged events (a power loss under --sync
// interval, or a store restored from an older backup). Events appended
// from then on would reuse the lost sequences and the projector, resuming
// after its checkpoint, would never apply them. So the read models are
// moved aside (kept, named *.ahead-<time>, for whoever wants to look) and
// rebuilt from the log as it is; the node is not ready until the rebuild
// has caught up, as on a first start. A log that cannot say its last
// sequence in time leaves the read models as they are.
func (m *Node) checkAhead(ctx context.Context) error {
	applied := m.db.Applied()
	if applied == 0 {
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, warmTimeout)
	defer cancel()
	last, err := m.conn.Log().LastSeq(lctx)
	if err != nil {
		m.Logger.Warn("could not compare the read models with the log", "err", err)
		return nil
	}
	if applied <= last {
		return nil
	}
	path := m.db.Path()
	aside := fmt.Sprintf("%s.ahead-%s", path, time.Now().UTC().Format("20060102T150405Z"))
	m.Logger.Error("the read models are ahead of the log: the log lost acknowledged events (a power loss with --sync interval, or an older backup of the store); rebuilding them from the log",
		"applied_seq", applied, "log_last_seq", last, "moved_aside", aside)
	if err := m.db.Close(); err != nil {
		return fmt.Errorf("close the read models to rebuild them: %w", err)
	}
	m.db = nil
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Rename(path+suffix, aside+suffix); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("move the read models aside: %w", err)
		}
	}
	m.db, err = projections.Open(ctx, path)
	return err
}
