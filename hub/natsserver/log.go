package natsserver

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/certfleet/certfleet/internal/logsum"
)

// logAdapter routes the server's log calls to slog (the caller tags the
// logger, e.g. component=nats). The server calls
// Fatalf when it cannot start (port taken, store unusable) and then gives
// up; the adapter hands that message to Start instead of exiting.
type logAdapter struct {
	l     *slog.Logger
	fatal chan string

	// Failed TLS handshakes are the clients' doing (a scanner on the
	// public port, a fleet timing out in a reconnect storm), and slow
	// read loops come by the thousand when a fleet reconnects at once:
	// each kind is summed into one line per summaryEvery.
	handshakes, readLoops *logsum.Summary
}

// summaryEvery bounds the lines of a summed kind of server message.
const summaryEvery = 10 * time.Second

func newLogAdapter(l *slog.Logger) *logAdapter {
	return &logAdapter{l: l, fatal: make(chan string, 1),
		handshakes: logsum.New(l, "tls handshakes failed", summaryEvery),
		readLoops:  logsum.New(l, "client read loops were slow (server busy)", summaryEvery)}
}

func (a *logAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }

func (a *logAdapter) Warnf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.Contains(msg, " - Readloop processing time: ") {
		a.readLoops.Add(time.Now(), "last", msg)
		return
	}
	a.l.Warn(msg)
}

func (a *logAdapter) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.Contains(msg, " - TLS handshake error: ") {
		a.handshakes.Add(time.Now(), "last", msg)
		return
	}
	a.l.Error(msg)
}

func (a *logAdapter) Debugf(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }

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
