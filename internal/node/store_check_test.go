package node

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// checkStore compares what the streams reserve with 75 % of the free space
// and names the streams, the sizes and the flags when it does not fit.
func TestCheckStoreSaysWhatIsNeededAndWhichFlagsBoundIt(t *testing.T) {
	rs := []reservation{{"OPS_STATS", "--stats-max-mb", 64 << 20}, {"MESSAGES", "--max-log-bytes", 512 << 20}}
	if err := checkStore("/d", 1<<30, rs); err != nil { // 768 MiB usable of 1 GiB free
		t.Fatalf("576 MiB of reservations on a 1 GiB disk: %v", err)
	}
	err := checkStore("/d", 512<<20, rs)
	if err == nil {
		t.Fatal("576 MiB of reservations in 384 usable MiB: no error")
	}
	for _, want := range []string{"/d", "576 MiB", "OPS_STATS 64 MiB, --stats-max-mb", "MESSAGES 512 MiB, --max-log-bytes", "384 MiB", "512 MiB free"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}

// A node whose streams would reserve more than its disk has does not start,
// and says why in Parley's terms, not as a NATS API error.
func TestNodeRefusesToStartOnADiskItsStreamsDoNotFit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr, cfg.DataDir, cfg.JWTSecret = "127.0.0.1:0", t.TempDir(), "s"
	cfg.StatsMaxMB = 1 << 30 // a PiB
	m := &Node{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	err := m.Run(context.Background())
	if err == nil {
		m.Close()
		t.Fatal("started with OPS_STATS reserving a PiB")
	}
	defer m.Close()
	if !strings.Contains(err.Error(), "--stats-max-mb") || !strings.Contains(err.Error(), "MiB free") {
		t.Fatalf("error %q does not say what to change", err)
	}
}

// On an existing store the check is JetStream's; its refusal comes with the
// same advice.
func TestNodeOnAnExistingStoreExplainsJetStreamsRefusal(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr, cfg.DataDir, cfg.JWTSecret = "127.0.0.1:0", t.TempDir(), "s"
	first := &Node{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := first.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	first.Close()
	cfg.StatsMaxMB = 1 << 30
	m := &Node{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	err := m.Run(context.Background())
	defer m.Close()
	if err == nil {
		t.Fatal("restarted with OPS_STATS reserving a PiB")
	}
	if !strings.Contains(err.Error(), "insufficient storage") || !strings.Contains(err.Error(), "--stats-max-mb") {
		t.Fatalf("error %q does not say what to change", err)
	}
}
