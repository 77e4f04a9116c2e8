//go:build !linux

package streams

import "os"

// syncData makes a block file's data durable.
func syncData(f *os.File) error { return f.Sync() }

// dirWatch is the Linux block syncer's directory watch; elsewhere there is
// none, and every round looks at the directory.
type dirWatch struct{}

func watchDir(string) *dirWatch  { return nil }
func (*dirWatch) changed() bool  { return true }
func (w *dirWatch) usable() bool { return false }
func (*dirWatch) close()         {}
