//go:build unix

package diskspace

import "golang.org/x/sys/unix"

func of(dir string) (Usage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return Usage{}, err
	}
	bs := uint64(st.Bsize) // int64 on Linux, uint32 on Darwin
	return Usage{Total: st.Blocks * bs, Free: st.Bavail * bs}, nil
}
