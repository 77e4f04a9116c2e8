// Package diskspace reads how much room the filesystem holding a directory
// has, for the node's low-space warning and its stats.
package diskspace

import "errors"

// Usage is a filesystem's size and the bytes an unprivileged process may
// still write to it.
type Usage struct {
	Total, Free uint64
}

// ErrUnsupported is Of's answer on a system it cannot ask.
var ErrUnsupported = errors.New("disk space: not supported on this system")

// Of returns the usage of the filesystem holding dir.
func Of(dir string) (Usage, error) { return of(dir) }
