//go:build linux

package pusher

import (
	"os"
	"testing"
)

// TestWSPollerCloseTwice checks that closing a poller again writes nothing:
// its files are closed by then, and their numbers may belong to files
// opened since (the node closes its realtime side once more on shutdown).
func TestWSPollerCloseTwice(t *testing.T) {
	p := newWSPoller()
	if p == nil {
		t.Fatal("no epoll poller on Linux")
	}
	p.close()
	var files []*os.File
	for range 8 { // likely to take the poller's old descriptors
		f, err := os.CreateTemp(t.TempDir(), "fd")
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	p.close()
	for _, f := range files {
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() != 0 {
			t.Errorf("closing the poller again wrote %d bytes into %s (fd %d)", st.Size(), f.Name(), f.Fd())
		}
		f.Close()
	}
}
