package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/certfleet/certfleet/hub/metrics"
	"github.com/certfleet/certfleet/shared"
)

// startMetrics serves /metrics on metrics.listen, when set.
func (h *Hub) startMetrics() error {
	if h.cfg.Metrics.Listen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", h.cfg.Metrics.Listen)
	if err != nil {
		return fmt.Errorf("listen metrics.listen %s: %w", h.cfg.Metrics.Listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h.metrics.Handler())
	h.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		// Handshake failures and the like are the client's problem: debug.
		ErrorLog: slog.NewLogLogger(h.log.With("component", "metrics").Handler(), slog.LevelDebug)}
	h.metricsAddr = ln.Addr().String()
	go func() {
		if err := h.metricsSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("serve metrics", "err", err)
		}
	}()
	h.log.Info("serving metrics", "addr", "http://"+h.metricsAddr+"/metrics")
	return nil
}

func (h *Hub) stopMetrics() {
	if h.metricsSrv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := h.metricsSrv.Shutdown(ctx); err != nil {
		h.log.Warn("stop metrics server", "err", err)
	}
}

// fleetSnapshot gathers what the metrics export: the fleet from the
// snapshot (every agent, no listing), the queue depth from the store.
func (h *Hub) fleetSnapshot(ctx context.Context) (metrics.Fleet, error) {
	var f metrics.Fleet
	if h.dns != nil {
		st := h.dns.Stats()
		f.DNS = &st
	}
	f.Dropped = h.drops.counts()
	now := time.Now()
	if h.limiter != nil {
		ls := h.limiter.Stats()
		f.Issuance = &metrics.Issuance{Limit: ls.Limit, InFlight: ls.InFlight, Drops: ls.Drops, HeldUntil: ls.HoldUntil,
			Waiting: h.waiting.size()}
	}
	silent := h.cfg.Agents.SilentAfter.D()
	f.Requests = map[string]int{}
	for _, a := range h.fleet.All() {
		f.AgentsRegistered++
		if s := a.Status; s != nil {
			if now.Sub(s.LastSeen) <= silent {
				f.AgentsOnline++
			}
			for _, c := range s.Report.Certificates {
				f.Certs = append(f.Certs, metrics.Cert{Agent: s.AgentID, Name: c.Name, NotBefore: c.NotBefore,
					NotAfter: c.NotAfter, RenewAt: c.RenewAt, LastResult: c.LastResult})
			}
			for _, u := range s.Report.Unmanaged {
				if !u.NotAfter.IsZero() {
					f.Unmanaged = append(f.Unmanaged, u.NotAfter)
				}
			}
		}
		for _, q := range a.Requests {
			f.Requests[q.State]++
		}
	}
	var err error
	if f.QueueDepth, err = h.store.QueueDepth(ctx); err != nil {
		return f, err
	}
	return f, nil
}

// observeOrder counts one finished ACME order.
func (h *Hub) observeOrder(ca string, err error, took time.Duration) {
	if h.metrics == nil {
		return
	}
	result := "issued"
	if err != nil {
		result = string(shared.CodeOf(classify(err)))
	}
	h.metrics.ObserveOrder(ca, result, took)
}
