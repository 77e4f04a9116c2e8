package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

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
	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case runErr = <-m.Done():
		logger.Error("stopping", "err", runErr)
	}
	if err := m.Close(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}
