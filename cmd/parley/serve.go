package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/coreos/go-systemd/v22/daemon"

	"parley/internal/node"
	"parley/internal/profiling"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	cfg := node.DefaultConfig()
	fs := newFlagSet("serve", stderr)
	cfg.Register(fs)
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060); off by default")
	if err := parseFlags(fs, args, map[string]string{"MESSAGING_REALTIME": "realtime"}); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)
	if *pprofAddr != "" {
		profiling.FinerHeap()
		if err := profiling.Serve(*pprofAddr, logger); err != nil {
			return err
		}
	}
	m := &node.Node{Config: cfg, Logger: logger}
	if err := m.Run(ctx); err != nil {
		return err
	}
	logger.Info("parley serving", "url", m.URL(), "data", cfg.DataDir, "applied_seq", m.DB().Applied())
	notifySystemd(logger, daemon.SdNotifyReady+"\nSTATUS=serving on "+m.URL())
	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down: no new connections; closing sockets (4200, reconnect), draining requests")
	case runErr = <-m.Done():
		logger.Error("stopping", "err", runErr)
	}
	notifySystemd(logger, daemon.SdNotifyStopping)
	if err := m.Close(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr == nil {
		logger.Info("stopped")
	}
	return runErr
}

// notifySystemd tells systemd (a unit of Type=notify) the service's state;
// it does nothing when systemd did not start the process.
func notifySystemd(logger *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		logger.Warn("systemd notify", "err", err)
	}
}
