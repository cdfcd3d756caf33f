package issuer

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	legolog "github.com/go-acme/lego/v5/log"
)

// lego logs through one process-wide logger (lego/log) and without a
// context, so its records cannot be told apart per Issuer. They go to the
// logger of the most recently created Issuer, tagged component=lego and
// demoted one level: lego narrates every step at info, which is debug
// detail for the hub. Warnings and errors keep their level.
var (
	legoTarget    atomic.Pointer[slog.Logger]
	legoRouteOnce sync.Once
)

// routeLegoLogs sends lego's log records to logger from now on.
func routeLegoLogs(logger *slog.Logger) {
	legoTarget.Store(logger.With("component", "lego"))
	legoRouteOnce.Do(func() {
		legolog.SetDefault(slog.New(legoHandler{}))
	})
}

// demote maps lego's levels to ours.
func demote(l slog.Level) slog.Level {
	switch {
	case l >= slog.LevelWarn:
		return l
	case l >= slog.LevelInfo:
		return slog.LevelDebug
	default:
		return slog.LevelDebug - 4
	}
}

// legoHandler forwards to the current target with demoted levels. lego
// never calls With or WithGroup; they are replayed on the target in order.
type legoHandler struct {
	derive []func(slog.Handler) slog.Handler
}

func (h legoHandler) target() slog.Handler {
	var t slog.Handler
	if l := legoTarget.Load(); l != nil {
		t = l.Handler()
	} else {
		t = slog.Default().Handler()
	}
	for _, d := range h.derive {
		t = d(t)
	}
	return t
}

func (h legoHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.target().Enabled(ctx, demote(l))
}

func (h legoHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, demote(r.Level), r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(a)
		return true
	})
	t := h.target()
	if !t.Enabled(ctx, out.Level) {
		return nil
	}
	return t.Handle(ctx, out)
}

func (h legoHandler) with(d func(slog.Handler) slog.Handler) legoHandler {
	return legoHandler{derive: append(append([]func(slog.Handler) slog.Handler(nil), h.derive...), d)}
}

func (h legoHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return h.with(func(t slog.Handler) slog.Handler { return t.WithAttrs(as) })
}

func (h legoHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(func(t slog.Handler) slog.Handler { return t.WithGroup(name) })
}
