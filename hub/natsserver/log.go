package natsserver

import (
	"context"
	"fmt"
	"log/slog"
)

// logAdapter routes the server's log calls to slog (the caller tags the
// logger, e.g. component=nats). The server calls
// Fatalf when it cannot start (port taken, store unusable) and then gives
// up; the adapter hands that message to Start instead of exiting.
type logAdapter struct {
	l     *slog.Logger
	fatal chan string
}

func newLogAdapter(l *slog.Logger) *logAdapter {
	return &logAdapter{l: l, fatal: make(chan string, 1)}
}

func (a *logAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }
func (a *logAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a *logAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a *logAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }

// Tracef is never enabled (it would log message payloads, secrets
// included), but the interface needs it.
func (a *logAdapter) Tracef(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }

func (a *logAdapter) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	a.l.Error(msg)
	select {
	case a.fatal <- msg:
	default:
	}
}

func (a *logAdapter) debugEnabled() bool {
	return a.l.Enabled(context.Background(), slog.LevelDebug)
}
