# Parley's everyday recipes. `just --list` shows them.

# Run the engine on ./data at localhost:8080.
run *ARGS:
    go run ./cmd/parley serve {{ARGS}}

# The whole suite, as CI runs it.
test:
    go test ./...

# The standard load set (parley bench standard: every workload, a few minutes), then the Go
# microbenchmarks of the hot paths.
bench:
    go run ./cmd/parley bench standard
    go test ./engine ./projections -run '^$' -bench .

# Formatting and static checks.
lint:
    test -z "$(gofmt -l .)" || (gofmt -l . && exit 1)
    go vet ./...

# Rebuild the reference chat page (web/src -> api/webui/dist, embedded in the binary) with the
# locked npm packages; commit the result (TestWebUIDistUpToDate fails when it is stale).
web:
    cd web && npm ci --no-audit --no-fund --loglevel=error && node build.mjs
