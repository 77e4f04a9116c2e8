package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"parley/api"
	"parley/engine"
	"parley/internal/node"
)

func runToken(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token", stderr)
	dataDir := fs.String("data", "./data", "data directory holding the generated JWT secret")
	secret := fs.String("jwt-secret", "", "HS256 secret (default: the data dir's generated one)")
	user := fs.String("user", "", "user id (the token's sub)")
	name := fs.String("name", "", "display name (presence user_info)")
	ops := fs.Bool("ops", false, "mint an operator token for the ops API and dashboard")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	if err := parseFlags(fs, args, nil); err != nil {
		return err
	}
	if *ops && *user == "" {
		*user = "ops"
	}
	if !engine.ValidUserID(*user) {
		return errors.New("--user is required: 1-128 characters of A-Z a-z 0-9 _ - = @ , . ;")
	}
	if *ttl <= 0 {
		return errors.New("--ttl must be positive")
	}
	key, err := node.JWTSecret(*secret, *dataDir)
	if err != nil {
		return err
	}
	tok, err := api.MintToken(key, *user, *name, *ops, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
