//go:build !linux

package streams

import "os"

// syncData makes a block file's data durable.
func syncData(f *os.File) error { return f.Sync() }
