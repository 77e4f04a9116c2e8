package e2e_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"parley/internal/realtime"
)

// unitFile is the systemd unit the repository ships.
const unitFile = "../deploy/systemd/parley.service"

// systemdAnalyze finds systemd-analyze or skips: .ci/run installs it.
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (apt-get install systemd; .ci/run installs it): skipping the check of deploy/systemd/parley.service")
	}
	return p
}

// unitSettings reads a unit's Key=Value lines (the last one of a key wins,
// as for the settings checked here).
func unitSettings(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out
}

// The shipped unit passes `systemd-analyze verify` with the real binary in
// ExecStart, scores as well sandboxed in `systemd-analyze security`, and
// sets what running Parley needs: readiness by notification, restarts, an
// unprivileged user, files for every connection, and a stop timeout longer
// than Parley's own shutdown (sockets get 5 s and requests 10 s, side by
// side).
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := systemdAnalyze(t)
	raw, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	const shipped = "ExecStart=/usr/local/bin/parley serve"
	if n := strings.Count(string(raw), shipped); n != 1 {
		t.Fatalf("%s holds %q %d times, want once", unitFile, shipped, n)
	}
	unit := filepath.Join(t.TempDir(), "parley.service")
	body := strings.Replace(string(raw), shipped, "ExecStart="+parleyBinary(t)+" serve", 1)
	if err := os.WriteFile(unit, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || strings.Contains(string(out), "parley.service") {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	out, err = exec.Command(analyze, "security", "--offline=true", unit).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for parley\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security said no exposure level:\n%s", out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 {
		t.Errorf("exposure level %.1f, want at most 2.0 (well sandboxed):\n%s", level, out)
	}

	s := unitSettings(t, unit)
	for k, want := range map[string]string{"Type": "notify", "Restart": "on-failure", "StateDirectory": "parley", "NoNewPrivileges": "yes", "ProtectSystem": "strict"} {
		if s[k] != want {
			t.Errorf("%s=%q, want %q", k, s[k], want)
		}
	}
	if u := s["User"]; u == "" || u == "root" {
		t.Errorf("User=%q: Parley runs as an unprivileged user", u)
	}
	if !strings.Contains(s["Environment"], "PARLEY_DATA=/var/lib/parley") || !strings.Contains(s["Environment"], "PARLEY_ADDR=127.0.0.1:") {
		t.Errorf("Environment=%q: the defaults keep the data in the state directory and listen on loopback for nginx", s["Environment"])
	}
	if strings.Contains(s["ExecStart"], "--") {
		t.Errorf("ExecStart=%q: a flag there would win over the env file, which could then not change it", s["ExecStart"])
	}
	if s["EnvironmentFile"] != "-/etc/parley/parley.env" {
		t.Errorf("EnvironmentFile=%q, want the optional /etc/parley/parley.env", s["EnvironmentFile"])
	}
	if n, _ := strconv.Atoi(s["LimitNOFILE"]); n < 2*realtime.DefaultMaxClients {
		t.Errorf("LimitNOFILE=%q: the default connection limit (%d sockets) and the store's files need at least %d", s["LimitNOFILE"], realtime.DefaultMaxClients, 2*realtime.DefaultMaxClients)
	}
	if d, err := time.ParseDuration(s["TimeoutStopSec"]); err != nil || d < 20*time.Second {
		t.Errorf("TimeoutStopSec=%q: Parley's shutdown may take 10 s (requests) and more to close the log and the database; give it at least 20 s", s["TimeoutStopSec"])
	}
}
