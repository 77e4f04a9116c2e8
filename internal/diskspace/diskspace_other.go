//go:build !unix && !windows

package diskspace

func of(string) (Usage, error) { return Usage{}, ErrUnsupported }
