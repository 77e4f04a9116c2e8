package streams

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// blockSyncer is group commit for the embedded single-node server. That
// server writes each message to its stream's last block file before it
// acknowledges it (a write into the page cache: it survives a killed
// process), so an append is on disk once that file is fsynced after the
// acknowledgement. An append waits for an fsync that began after its ack;
// one fsync serves every append waiting when it begins, so a lone append
// pays one fsync and a busy stream one per round, whatever the number of
// appends in it. (JetStream's own SyncAlways fsyncs once per message, and
// its atomic batches stage each batch in a store of their own with an
// fsync of its own: both cost several times this.)
type blockSyncer struct {
	dir string // the stream's msgs directory

	mu       sync.Mutex
	ended    chan struct{} // closed when the round in progress ends
	started  uint64        // rounds begun
	finished uint64        // rounds ended
	syncing  bool
	err      error // the last round's

	waits   uint64 // sync calls
	counted uint64 // waits counted into a round so far

	// Used by the round in progress only.
	cur     *os.File
	curIdx  int
	watch   *dirWatch // the directory's entries (nil: look every round)
	watched time.Time // when the last watch was made
	look    bool      // the next round looks at the directory
	looked  time.Time // when a round last completed a look
	looks   uint64    // rounds that looked
	closed  bool
	stats   commitStats
}

func newBlockSyncer(dir string) *blockSyncer {
	s := &blockSyncer{dir: dir}
	s.ended = make(chan struct{})
	s.stats.start = time.Now()
	return s
}

// embeddedBlocks is where the embedded server keeps a stream's blocks.
func embeddedBlocks(dataDir, stream string) string {
	return filepath.Join(dataDir, "nats", "jetstream", "$G", "streams", stream, "msgs")
}

// sync returns once an fsync of the stream's blocks that began after the
// call has ended, with that fsync's error; or with ctx's error when it ends
// first (a disk that does not answer: the append is then reported as not
// acknowledged, and its retry finds it).
func (s *blockSyncer) sync(ctx context.Context) error {
	began := time.Now()
	s.mu.Lock()
	defer func() {
		s.mu.Unlock()
		s.stats.waited(time.Since(began))
	}()
	s.waits++
	want := s.started + 1 // a round that begins from now on
	for s.finished < want {
		if s.syncing {
			ended := s.ended
			s.mu.Unlock()
			select {
			case <-ended:
			case <-ctx.Done():
				s.mu.Lock()
				return ctx.Err()
			}
			s.mu.Lock()
			continue
		}
		s.syncing = true
		s.started++
		round := s.started
		covers := s.waits - s.counted // every append waiting now
		s.counted = s.waits
		s.mu.Unlock()
		s.stats.batch(int(covers))
		err := s.syncBlocks()
		s.mu.Lock()
		s.syncing, s.finished, s.err = false, round, err
		close(s.ended)
		s.ended = make(chan struct{})
	}
	return s.err
}

// syncBlocks fsyncs the last block file, and each block the server moved
// on from since the last round (with the directory that names the new
// ones). A round looks at the directory when its watch saw an entry
// created, removed or renamed, when no round has looked for lookEvery, or
// when an earlier look failed; otherwise the open block is still the last
// one.
func (s *blockSyncer) syncBlocks() (err error) {
	if s.closed {
		return errSyncerClosed
	}
	// A look owed stays owed until a round completes one: the watch's
	// events are gone once read.
	s.look = s.watch.changed() || s.look || time.Since(s.looked) > lookEvery
	if !s.watch.usable() && time.Since(s.watched) > time.Second {
		// Watch before looking, so no change after the look goes unseen.
		s.watch.close()
		s.watch, s.watched, s.look = watchDir(s.dir), time.Now(), true
	}
	look := s.look
	defer func() {
		if err == nil && look {
			s.look, s.looked = false, time.Now()
			s.looks++
		}
	}()
	if s.cur == nil || (look && s.replaced()) {
		if err := s.openLast(); err != nil {
			return err
		}
		if s.cur == nil {
			return nil // nothing stored yet
		}
	}
	newBlock := false
	for look {
		name := filepath.Join(s.dir, strconv.Itoa(s.curIdx+1)+".blk")
		next, err := openBlock(name)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", name, err)
		}
		if err := syncData(s.cur); err != nil {
			next.Close()
			return fmt.Errorf("fsync %s: %w", s.cur.Name(), err)
		}
		s.cur.Close()
		s.cur, s.curIdx, newBlock = next, s.curIdx+1, true
	}
	if err := syncData(s.cur); err != nil {
		return fmt.Errorf("fsync %s: %w", s.cur.Name(), err)
	}
	if newBlock {
		return syncDir(s.dir)
	}
	return nil
}

// lookEvery bounds the time between two rounds that look at the directory
// whatever its watch says.
const lookEvery = time.Second

// openBlock opens a block file (a variable for tests that make it fail).
var openBlock = os.Open

// errSyncerClosed answers a round asked for after close.
var errSyncerClosed = errors.New("the log is closed")

// replaced reports whether the open block is no longer the file of its
// name (the server rewrote or removed it).
func (s *blockSyncer) replaced() bool {
	a, err1 := s.cur.Stat()
	b, err2 := os.Stat(s.cur.Name())
	if err1 != nil || err2 != nil || !os.SameFile(a, b) {
		s.cur.Close()
		s.cur = nil
		return true
	}
	return false
}

// openLast opens the block with the highest index, and fsyncs the
// directory (a block it did not know may be new).
func (s *blockSyncer) openLast() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	best := 0
	for _, e := range entries {
		if n, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".blk")); err == nil && strings.HasSuffix(e.Name(), ".blk") && n > best {
			best = n
		}
	}
	if best == 0 {
		return nil
	}
	f, err := os.Open(filepath.Join(s.dir, strconv.Itoa(best)+".blk"))
	if err != nil {
		return err
	}
	s.cur, s.curIdx = f, best
	return syncDir(s.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && err != syscall.EINVAL && runtime.GOOS != "windows" {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// close releases the open block after the round in progress.
func (s *blockSyncer) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.syncing {
		ended := s.ended
		s.mu.Unlock()
		<-ended
		s.mu.Lock()
	}
	if s.cur != nil {
		s.cur.Close()
		s.cur = nil
	}
	s.watch.close()
	s.watch, s.closed = nil, true
}
