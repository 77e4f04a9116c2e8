package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version and commit are set by the release build (scripts/release:
// -ldflags "-X main.version=v1.2.3 -X main.commit=<sha>"); otherwise
// version is "dev" and the commit comes from Go's VCS stamp, when the build
// made one.
var version, commit = "dev", ""

// versionLine tells the version, the commit the binary was built from (and
// whether the tree had changes), and the Go toolchain and platform.
func versionLine() string {
	rev, modified, built := commit, "", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.modified":
				if s.Value == "true" {
					modified = ", modified"
				}
			case "vcs.time":
				built = ", " + s.Value
			}
		}
	}
	if rev == "" {
		rev = "unknown"
	}
	return fmt.Sprintf("parley %s (commit %s%s%s) %s %s/%s", version, rev, modified, built, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func runVersion(stdout io.Writer) error {
	fmt.Fprintln(stdout, versionLine())
	return nil
}
