package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/kardianos/service"
)

// eventLogHandler passes every record to next and copies warnings and
// errors to the service manager's log: the Windows event log (source
// certfleet-agent, registered by `service install`), where operators and
// monitoring look for a service's trouble.
type eventLogHandler struct {
	next  slog.Handler
	log   service.Logger
	attrs []slog.Attr
}

func (h eventLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h eventLogHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.next.Handle(ctx, r)
	if r.Level < slog.LevelWarn {
		return err
	}
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	if r.Level >= slog.LevelError {
		_ = h.log.Error(b.String())
	} else {
		_ = h.log.Warning(b.String())
	}
	return err
}

func (h eventLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return eventLogHandler{next: h.next.WithAttrs(as), log: h.log, attrs: append(append([]slog.Attr{}, h.attrs...), as...)}
}

// WithGroup keeps the group for the next handler; the event log text
// shows the attributes ungrouped.
func (h eventLogHandler) WithGroup(name string) slog.Handler {
	return eventLogHandler{next: h.next.WithGroup(name), log: h.log, attrs: h.attrs}
}
