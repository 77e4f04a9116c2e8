package streams

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// syncData makes a block file's data durable: fdatasync, which skips the
// timestamps that fsync also writes (the size, which appends change, is
// written either way).
func syncData(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}

// dirWatch tells the block syncer whether a directory's entries changed:
// inotify events for entries created, removed or renamed, read without
// blocking. One read per fsync round replaces the stat of the open block
// and the probe for the next one, which walk the path each time.
type dirWatch struct {
	fd     int
	buf    []byte
	broken bool // the directory itself went, or events were lost
}

// watchDir watches dir; nil when it cannot (the directory does not exist
// yet, or the inotify limits are reached), and a nil watch always reports
// a change.
func watchDir(dir string) *dirWatch {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil
	}
	const events = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF
	if _, err := unix.InotifyAddWatch(fd, dir, events); err != nil {
		unix.Close(fd)
		return nil
	}
	return &dirWatch{fd: fd, buf: make([]byte, 4096)}
}

// changed drains the events queued since the last call and reports
// whether there were any. An entry's creation is queued before the call
// that made it returns, so an append acknowledged before this call, into a
// block this call has not yet seen, always shows here.
func (w *dirWatch) changed() bool {
	if w == nil || w.broken {
		return true
	}
	got := false
	for {
		n, err := unix.Read(w.fd, w.buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return got
		case err != nil || n < unix.SizeofInotifyEvent:
			w.broken = true
			return true
		}
		got = true
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&w.buf[off]))
			if ev.Mask&(unix.IN_Q_OVERFLOW|unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0 {
				w.broken = true
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
}

// usable reports whether the watch still follows its directory.
func (w *dirWatch) usable() bool { return w != nil && !w.broken }

func (w *dirWatch) close() {
	if w != nil {
		unix.Close(w.fd)
	}
}
