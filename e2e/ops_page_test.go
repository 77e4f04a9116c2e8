package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/api"
	"parley/internal/node"
	"parley/internal/testkit"
	"parley/streams"
)

// opsPageResult is what opspage/ops_page.mjs reports.
type opsPageResult struct {
	RefusedStatus     int      `json:"refusedStatus"`
	RefusedText       string   `json:"refusedText"`
	RefusedHasStreams int      `json:"refusedHasStreams"`
	APIWithoutToken   int      `json:"apiWithoutToken"`
	BadToken          int      `json:"badToken"`
	Status            int      `json:"status"`
	FinalURL          string   `json:"finalURL"`
	StreamRow         string   `json:"streamRow"`
	ConsumerRow       string   `json:"consumerRow"`
	ProjectionRows    int      `json:"projectionRows"`
	ChartPoints       int      `json:"chartPoints"`
	LagChartPoints    int      `json:"lagChartPoints"`
	Connections       string   `json:"connections"`
	Health            string   `json:"health"`
	Screenshot        string   `json:"screenshot"`
	Foreign           []string `json:"foreign"`
	ConsoleErrors     []string `json:"consoleErrors"`
	Error             string   `json:"error"`
}

// The /ops dashboard in real headless Chromium: refused without the ops
// token; with it, the stream and consumer rows and charts with data points
// from the stored history. The screenshot goes to artifacts/.
func TestOpsPageInChromium(t *testing.T) {
	chromium := testkit.Chromium(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "e2e", "opspage")
	nodeBin := testkit.NodeModules(t, dir)

	env := opsStart(t, func(c *node.Config) { c.StatsInterval = 200 * time.Millisecond })
	alice := env.Token("alice")
	conv := opsGroup(t, env, alice, "bob")
	for i := range 5 {
		opsSend(t, env, alice, conv, "hello "+string(rune('a'+i)))
	}
	opsSSE(t, env, env.Token("bob"))
	opsQueueIdle(t, env, streams.StreamName, streams.NotifyConsumer)
	testkit.WaitFor(t, opsWait, "three stored snapshots", func() bool {
		var h api.StatsHistory
		env.MustDo(http.StatusOK, "GET", "/api/ops/stats/history", opsToken(t), nil, &h)
		return len(h.Points) >= 3
	})

	artifacts := filepath.Join(root, "artifacts")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifacts, "ops-dashboard.png")
	_ = os.Remove(shot)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "ops_page.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OPS_URL="+env.URL(), "OPS_TOKEN="+opsToken(t), "OPS_SCREENSHOT="+shot, "CHROMIUM="+chromium)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	raw, runErr := cmd.Output()
	var res opsPageResult
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("ops_page.mjs: %v (%v)\nstdout: %s\nstderr: %s", runErr, err, raw, stderr.String())
	}
	if runErr != nil || res.Error != "" {
		t.Fatalf("ops_page.mjs failed: %v\n%s\nstderr: %s", runErr, res.Error, stderr.String())
	}
	t.Logf("screenshot: %s", shot)

	if res.RefusedStatus != http.StatusUnauthorized || !strings.Contains(res.RefusedText, "ops token") || res.RefusedHasStreams != 0 ||
		res.APIWithoutToken != http.StatusUnauthorized || res.BadToken != http.StatusUnauthorized {
		t.Fatalf("without a token: %+v", res)
	}
	if res.Status != http.StatusOK || res.FinalURL != env.URL()+"/ops" {
		t.Fatalf("with the token: status %d at %s", res.Status, res.FinalURL)
	}
	if !strings.HasPrefix(res.StreamRow, "MESSAGES\t6\t") {
		t.Fatalf("MESSAGES row: %q", res.StreamRow)
	}
	if !strings.HasPrefix(res.ConsumerRow, "MESSAGES\tnotifications\tdurable\t0\t0\t0") {
		t.Fatalf("notifications consumer row: %q", res.ConsumerRow)
	}
	if res.ProjectionRows != 2 || res.ChartPoints < 3 || res.LagChartPoints < 3 || res.Connections != "1" {
		t.Fatalf("projections %d, chart points %d/%d, connections %q", res.ProjectionRows, res.ChartPoints, res.LagChartPoints, res.Connections)
	}
	if res.Health != "ready" {
		t.Fatalf("health %q, want ready", res.Health)
	}
	if len(res.Foreign) > 0 {
		t.Fatalf("the page reached outside the server: %v", res.Foreign)
	}
	for _, e := range res.ConsoleErrors {
		if strings.Contains(e, "Content Security Policy") || strings.Contains(e, "Refused to") {
			t.Fatalf("console: %s", e)
		}
	}
	if st, err := os.Stat(shot); err != nil || st.Size() < 10_000 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
}
