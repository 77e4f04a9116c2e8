# Release binaries for linux/amd64, linux/arm64, darwin/arm64 and
# windows/amd64 into dist/, each telling `parley --version` its version
# and commit.
release version:
	scripts/release {{version}}
