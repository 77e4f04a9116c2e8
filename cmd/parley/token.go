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
	claims := fs.Bool("claims", false, "after the token, print the claims it carries and what Parley reads in each (for an application minting its own)")
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
	if *claims {
		printClaims(stdout, *user, *name, *ops, *ttl)
	}
	return nil
}

// printClaims explains a token's claims: what an application minting
// Parley's tokens itself must put in them.
func printClaims(w io.Writer, user, name string, ops bool, ttl time.Duration) {
	now := time.Now()
	fmt.Fprintf(w, `
HS256, signed with the server's secret (--jwt-secret, PARLEY_JWT_SECRET, or the data dir's jwt.secret)
claim   this token            what Parley reads
sub     %-21q required: the user id, 1-128 characters of A-Z a-z 0-9 _ - = @ , . ;
exp     %-21d required: expiry, Unix seconds (%s; 30 s of leeway)
iat     %-21d optional: issued at, Unix seconds
name    %-21q optional: display name, in presence user_info
avatar  %-21q optional: avatar URL, in presence user_info
ops     %-21v optional: true for an operator (ops API and dashboard); leave it out for users
`, user, now.Add(ttl).Unix(), now.Add(ttl).UTC().Format(time.RFC3339), now.Unix(), name, "", ops)
}
