package api

import (
	"strconv"
	"testing"

	"parley/engine"
)

// FuzzSeqCursor: an after_seq cursor is a sequence exactly when it is the
// decimal form of one; everything else is 400 unknown_cursor.
func FuzzSeqCursor(f *testing.F) {
	for _, s := range []string{"0", "1", "18446744073709551615", "18446744073709551616", "-1", "1e3", " 1", "", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		seq, err := parseSeqCursor(v)
		if err != nil {
			if e := engine.AsError(err); e == nil || e.Code != "unknown_cursor" {
				t.Fatalf("parseSeqCursor(%q) = %v", v, err)
			}
			return
		}
		if strconv.FormatUint(seq, 10) != v && "0"+strconv.FormatUint(seq, 10) != v {
			if n, perr := strconv.ParseUint(v, 10, 64); perr != nil || n != seq {
				t.Fatalf("parseSeqCursor(%q) = %d", v, seq)
			}
		}
	})
}
