package node

import (
	"os/exec"
	"strings"
	"testing"
)

// layers is the package layering that docs/architecture.md draws: a
// package imports only packages of a lower layer. A package missing here
// fails the test, so a new one is placed on purpose.
var layers = map[string]int{
	"parley/engine":               0,
	"parley/migrations":           0,
	"parley/internal/webhook":     0,
	"parley/internal/pusher/apps": 0,
	"parley/internal/profiling":   0,
	"parley/internal/diskspace":   0,
	"parley/api/webui":            0,
	"parley/internal/realtime":    1,
	"parley/internal/notify":      1,
	"parley/streams":              2,
	"parley/projections":          2,
	"parley/internal/pusher":      3,
	"parley/api":                  4,
	"parley/internal/node":        5,
	"parley/internal/bench":       6,
	"parley/cmd/parley":           7,
	// Test support and tests: above everything.
	"parley/internal/testkit":          8,
	"parley/internal/testkit/testcert": 0, // imports nothing of Parley's
	"parley/e2e":                       9,
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

func TestLayering(t *testing.T) {
	lines := goList(t, "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "parley/...")
	if len(lines) < 10 {
		t.Fatalf("go list saw only %d packages: %q", len(lines), lines)
	}
	for _, line := range lines {
		f := strings.Fields(line)
		pkg, imports := f[0], f[1:]
		layer, ok := layers[pkg]
		if !ok {
			t.Errorf("%s is not in the layering table: place it (and in docs/architecture.md)", pkg)
			continue
		}
		for _, imp := range imports {
			if !strings.HasPrefix(imp, "parley/") {
				continue
			}
			if l, ok := layers[imp]; ok && l >= layer {
				t.Errorf("%s (layer %d) imports %s (layer %d): imports must go down", pkg, layer, imp, l)
			}
		}
	}
}

// The domain imports no transport, no log and no database.
func TestEngineImportsNoInfrastructure(t *testing.T) {
	for _, dep := range goList(t, "-deps", "parley/engine") {
		for _, banned := range []string{"net/http", "nats", "sqlite", "labstack/echo"} {
			if strings.Contains(dep, banned) || dep == "database/sql" {
				t.Errorf("engine depends on %s", dep)
			}
		}
	}
}
