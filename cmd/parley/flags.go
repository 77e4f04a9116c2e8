package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// newFlagSet is a subcommand's flag set: errors are returned, usage goes to
// stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// logFlags registers the two flags of the commands that read a server's log
// (replay, verify): its data dir and, optionally, the NATS URL of its log.
func logFlags(fs *flag.FlagSet, dataUsage string) (dataDir, natsURL *string) {
	dataDir = fs.String("data", "./data", dataUsage)
	natsURL = fs.String("nats-url", "", "NATS URL of the log (default: the server running on --data, or an embedded one)")
	return dataDir, natsURL
}

// envName is the environment variable that backs a flag.
func envName(flagName string) string {
	return "PARLEY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args, then fills every flag not given on the command
// line from PARLEY_<FLAG>, or from the file named by PARLEY_<FLAG>_FILE.
// aliases maps extra environment variable names to flags.
func parseFlags(fs *flag.FlagSet, args []string, aliases map[string]string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok {
			if path, okf := os.LookupEnv(envName(f.Name) + "_FILE"); okf {
				b, rerr := os.ReadFile(path)
				if rerr != nil {
					err = fmt.Errorf("%s_FILE: %w", envName(f.Name), rerr)
					return
				}
				v, ok = strings.TrimSpace(string(b)), true
			}
		}
		for alias, name := range aliases {
			if name == f.Name && !ok {
				v, ok = os.LookupEnv(alias)
			}
		}
		if ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, serr)
			}
		}
	})
	return err
}
