// Package profiling serves Go's profiler for `parley serve --pprof` and
// `parley bench --pprof`, on a listener of its own, apart from the API.
package profiling

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"
)

// FinerHeap samples every 64 KiB allocated instead of every 512 KiB, so the
// server's heap profiles taken minutes apart can be compared (`go tool pprof
// -diff_base`) down to small growth. The harness keeps the default: the finer
// sampling costs CPU it reports.
func FinerHeap() { runtime.MemProfileRate = 64 << 10 }

// Serve serves the profiler on addr until the process ends.
func Serve(addr string, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	logger.Info("pprof serving", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return nil
}
