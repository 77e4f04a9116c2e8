# Parley's everyday recipes. `just --list` shows them.

# Run the engine on ./data at localhost:8080.
run *ARGS:
    go run ./cmd/parley serve {{ARGS}}

# The whole suite, as CI runs it.
test:
    go test ./...

# Benchmarks of the hot paths (send over HTTP, delta on short and long history).
bench:
    go test ./api/ -run '^$' -bench 'SendHTTP|Delta' -benchtime 5s

# Formatting and static checks.
lint:
    test -z "$(gofmt -l .)" || (gofmt -l . && exit 1)
    go vet ./...
