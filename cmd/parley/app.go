package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"parley/internal/node"
)

// runApp prints the Pusher apps a server on this data dir serves (the flag
// app's id, key and secret are generated into the data dir on first use),
// as the REVERB_* lines of a Laravel .env or as JSON.
func runApp(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("app", stderr)
	cfg := node.DefaultRealtimeConfig()
	dataDir := fs.String("data", "./data", "data directory holding the generated app id, key and secret")
	fs.StringVar(&cfg.AppID, "app-id", "", "app id (default: the data dir's)")
	fs.StringVar(&cfg.AppKey, "app-key", "", "app key (default: the data dir's)")
	fs.StringVar(&cfg.AppSecret, "app-secret", "", "app secret (default: the data dir's)")
	fs.StringVar(&cfg.AppsFile, "apps-file", "", "JSON file of several apps")
	asJSON := fs.Bool("json", false, "print the apps as JSON instead of .env lines")
	if err := parseFlags(fs, args, nil); err != nil {
		return err
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		return err
	}
	reg, err := cfg.Apps(*dataDir)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"apps": reg.All()})
	}
	for i, a := range reg.All() {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		if !a.Messaging || len(reg.All()) > 1 {
			fmt.Fprintf(stdout, "# app %s%s\n", a.ID, map[bool]string{true: " (messaging)", false: ""}[a.Messaging])
		}
		fmt.Fprintf(stdout, "REVERB_APP_ID=%s\nREVERB_APP_KEY=%s\nREVERB_APP_SECRET=%s\n", a.ID, a.Key, a.Secret)
	}
	return nil
}
