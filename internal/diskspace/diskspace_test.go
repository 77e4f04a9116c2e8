package diskspace

import (
	"os"
	"testing"
)

// The temp directory's filesystem has a size and no more free space than
// that, and writing a file does not raise the free space.
func TestOfReportsTheFilesystem(t *testing.T) {
	dir := t.TempDir()
	u, err := Of(dir)
	if err != nil {
		t.Fatal(err)
	}
	if u.Total == 0 || u.Free > u.Total {
		t.Fatalf("usage %+v", u)
	}
	if _, err := Of(dir + "/missing"); err == nil {
		t.Error("a missing directory has no usage")
	}
	if err := os.WriteFile(dir+"/f", make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if after, err := Of(dir); err != nil || after.Total != u.Total {
		t.Errorf("after a write: %+v %v, before %+v", after, err, u)
	}
}
