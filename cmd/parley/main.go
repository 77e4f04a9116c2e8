// Command parley is the Parley messaging engine: serve runs everything in one
// process; token, replay, verify, stats and bench are its tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"parley/internal/bench"
)

const usage = `parley: an event-sourced realtime messaging engine

Usage:
  parley serve [flags]    run the engine (embedded NATS + SQLite + HTTP)
  parley token [flags]    print a JWT for a user (or --ops for an operator)
  parley app [flags]      print the Pusher app id, key and secret (Laravel .env lines)
  parley replay [flags]   rebuild the read models from the log into a new file
  parley verify [flags]   rebuild in a temp file and compare with the live read models
  parley stats [flags]    print a running server's stats (--watch refreshes)
  parley bench WORKLOAD   run a named load against a server (see parley bench -h)
  parley --version        print the version and the commit it was built from

Run "parley COMMAND -h" for a command's flags. Every flag also reads the
environment variable PARLEY_<FLAG> (upper case, dashes as underscores).
`

func main() {
	ctx, stop := signals(os.Stderr)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "parley:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stderr)
	case "token":
		return runToken(args[1:], stdout, stderr)
	case "app":
		return runApp(args[1:], stdout, stderr)
	case "replay":
		return runReplay(ctx, args[1:], stdout, stderr)
	case "verify":
		return runVerify(ctx, args[1:], stdout, stderr)
	case "stats":
		return runStats(ctx, args[1:], stdout, stderr)
	case "bench":
		return bench.Run(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		return runVersion(stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// signals is a context that ends at the first SIGINT or SIGTERM, when serve
// begins its orderly shutdown. A second signal does not wait for that
// shutdown: the process exits at once with status 1.
func signals(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig, ok := <-ch
		if !ok {
			return
		}
		cancel()
		if sig, ok = <-ch; ok {
			fmt.Fprintf(stderr, "parley: second signal (%v): exiting without finishing the shutdown\n", sig)
			os.Exit(1)
		}
	}()
	return ctx, func() { signal.Stop(ch); close(ch); cancel() }
}
