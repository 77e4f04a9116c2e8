package projections

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Version is the version of the apply functions. Bump it when a change to
// them would make existing rows differ from what a rebuild gives: a server
// that finds its database built by an older version rebuilds it from the log
// in the background, keeps serving from the old one meanwhile, and swaps.
const Version = 3

// DefaultFile is the live database's file name until a rebuild replaces it.
const DefaultFile = "parley.db"

// pointerFile names the live database file inside the data dir.
const pointerFile = "readmodel"

// LivePath is the live database of a data dir.
func LivePath(dataDir string) string {
	b, err := os.ReadFile(filepath.Join(dataDir, pointerFile))
	if name := strings.TrimSpace(string(b)); err == nil && name != "" && !strings.ContainsAny(name, `/\`) {
		return filepath.Join(dataDir, name)
	}
	return filepath.Join(dataDir, DefaultFile)
}

// NextPath is a new file name for a rebuild of version v.
func NextPath(dataDir string, v int) string {
	return filepath.Join(dataDir, fmt.Sprintf("parley-v%d-%d.db", v, time.Now().UnixNano()))
}

// setLivePath makes path the data dir's live database (atomically).
func setLivePath(dataDir, path string) error {
	p := filepath.Join(dataDir, pointerFile)
	if err := os.WriteFile(p+".tmp", []byte(filepath.Base(path)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(p+".tmp", p)
}

// BuiltVersion is the version of the apply functions that built this
// database (0: not recorded).
func (db *DB) BuiltVersion(ctx context.Context) (int, error) {
	var v int
	err := db.wr().QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v)
	return v, err
}

// SetBuiltVersion records the version that built this database.
func (db *DB) SetBuiltVersion(ctx context.Context, v int) error {
	_, err := db.wr().ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, v))
	return err
}

// Swap makes the database at path (fully built and closed) the live one:
// new queries go to it at once, the old pools close once their queries have
// finished, and the old files are removed. The projector must be stopped
// while Swap runs; start a new one afterwards.
func (db *DB) Swap(ctx context.Context, dataDir, path string) error {
	np, err := openPools(ctx, path, false)
	if err != nil {
		return err
	}
	var cp uint64
	err = np.w.QueryRowContext(ctx, `SELECT coalesce((SELECT seq FROM checkpoints WHERE name = ?), 0)`, checkpointName).Scan(&cp)
	if err != nil {
		np.close()
		return err
	}
	if cp < db.Applied() {
		np.close()
		return fmt.Errorf("swap: %s is at seq %d, behind the live %d", path, cp, db.Applied())
	}
	if err := setLivePath(dataDir, path); err != nil {
		np.close()
		return err
	}
	old := db.cur.Swap(np)
	db.omu.Lock() // outcomes of the old file's projector say nothing of the new one
	db.floor = max(db.floor, cp)
	clear(db.skipped)
	db.omu.Unlock()
	db.sends.reset() // the new file's last commits never reached it
	if cp > db.Applied() {
		db.setApplied(cp)
	}
	// Queries that took the old pools before the swap finish on them: the
	// files' names go now (open connections keep the inodes), the pools close
	// after a grace period. Nothing after the switch can fail the swap.
	_ = removeDBFiles(old.path)
	db.retire(old)
	return nil
}

// retireGrace is how long replaced pools stay open for queries in flight.
const retireGrace = 30 * time.Second

// retire closes replaced pools after retireGrace (or at Close).
func (db *DB) retire(p *pools) {
	db.rmu.Lock()
	defer db.rmu.Unlock()
	db.retired = append(db.retired, p)
	time.AfterFunc(retireGrace, func() {
		db.rmu.Lock()
		defer db.rmu.Unlock()
		for i, q := range db.retired {
			if q == p {
				db.retired = append(db.retired[:i], db.retired[i+1:]...)
				_ = p.close()
				return
			}
		}
	})
}

// removeDBFiles removes a database file with its WAL and shared-memory files.
func removeDBFiles(path string) error {
	var errs []error
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// CloseBuilt finishes a database built with OpenBulk: it records the
// version, checkpoints the WAL into the file and closes it, ready for Swap.
func (db *DB) CloseBuilt(ctx context.Context, v int) error {
	if err := db.SetBuiltVersion(ctx, v); err != nil {
		db.Close()
		return err
	}
	if _, err := db.wr().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		db.Close()
		return err
	}
	return db.Close()
}
