package streams

import (
	"os"

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
