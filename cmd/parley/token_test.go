package main

import (
	"strings"
	"testing"

	"parley/api"
)

// `parley token --claims` prints a token the server accepts, then the
// claims an application must put in its own tokens.
func TestTokenPrintsTheClaimsItExpects(t *testing.T) {
	out, err := runCmd(t, "token", "--jwt-secret", "s3cret", "--user", "alice", "--name", "Alice", "--claims")
	if err != nil {
		t.Fatalf("token: %v\n%s", err, out)
	}
	lines := strings.Split(out, "\n")
	id, err := api.NewAuthenticator([]byte("s3cret")).Verify(lines[0])
	if err != nil || id.UserID != "alice" || id.Name != "Alice" || id.Ops {
		t.Fatalf("the printed token: %+v %v", id, err)
	}
	for _, want := range []string{"HS256", `sub     "alice"`, "required: the user id", "exp ", "required: expiry", `name    "Alice"`, "ops     false"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if plain, err := runCmd(t, "token", "--jwt-secret", "s3cret", "--user", "alice"); err != nil || strings.Count(strings.TrimSpace(plain), "\n") != 0 {
		t.Errorf("without --claims the output is the token alone: %q %v", plain, err)
	}
}
