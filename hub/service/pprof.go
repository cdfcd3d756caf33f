package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startPprof serves Go's runtime profiles on debug.pprof_listen (a loopback
// address; config validation refuses others), for `go tool pprof` on a
// hub under load. Off unless configured: nothing registers on
// http.DefaultServeMux.
func (h *Hub) startPprof() error {
	listen := h.cfg.Debug.PprofListen
	if listen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen debug.pprof_listen %s: %w", listen, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// A CPU profile or trace runs for its ?seconds=: no write timeout.
	h.pprofSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(h.log.With("component", "pprof").Handler(), slog.LevelDebug)}
	h.pprofURL = "http://" + ln.Addr().String() + "/debug/pprof/"
	go func() {
		if err := h.pprofSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("serve pprof", "err", err)
		}
	}()
	h.log.Warn("serving runtime profiles (debug.pprof_listen); turn it off when done", "url", h.pprofURL)
	return nil
}

func (h *Hub) stopPprof() {
	if h.pprofSrv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := h.pprofSrv.Shutdown(ctx); err != nil {
		h.log.Warn("stop pprof server", "err", err)
	}
}
