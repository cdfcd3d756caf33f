package natsserver

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// logAdapter routes the server's log calls to slog (the caller tags the
// logger, e.g. component=nats). The server calls
// Fatalf when it cannot start (port taken, store unusable) and then gives
// up; the adapter hands that message to Start instead of exiting.
type logAdapter struct {
	l     *slog.Logger
	fatal chan string

	// Failed TLS handshakes are the clients' doing (a scanner on the
	// public port, a fleet timing out in a reconnect storm): they are
	// summed into one line per handshakeLogEvery, not logged one by one.
	hsMu     sync.Mutex
	hsLast   time.Time
	hsCount  int
	hsSample string
	hsFlush  bool // a flush of the suppressed count is scheduled
}

// handshakeLogEvery bounds the lines about failed TLS handshakes.
const handshakeLogEvery = 10 * time.Second

func newLogAdapter(l *slog.Logger) *logAdapter {
	return &logAdapter{l: l, fatal: make(chan string, 1)}
}

func (a *logAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }
func (a *logAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a *logAdapter) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.Contains(msg, " - TLS handshake error: ") {
		a.handshakeFailed(msg, time.Now())
		return
	}
	a.l.Error(msg)
}

// handshakeFailed counts a failed TLS handshake and logs, at most once per
// handshakeLogEvery, how many failed since the last line, with one of them.
func (a *logAdapter) handshakeFailed(msg string, now time.Time) {
	a.hsMu.Lock()
	a.hsCount++
	a.hsSample = msg
	if since := now.Sub(a.hsLast); since < handshakeLogEvery {
		if !a.hsFlush {
			// The count is logged at the end of the interval even if no
			// further handshake fails.
			a.hsFlush = true
			time.AfterFunc(handshakeLogEvery-since, func() { a.flushHandshakes(time.Now()) })
		}
		a.hsMu.Unlock()
		return
	}
	a.hsMu.Unlock()
	a.flushHandshakes(now)
}

// flushHandshakes logs the failed handshakes counted since the last line.
func (a *logAdapter) flushHandshakes(now time.Time) {
	a.hsMu.Lock()
	n, sample := a.hsCount, a.hsSample
	a.hsCount, a.hsLast, a.hsFlush = 0, now, false
	a.hsMu.Unlock()
	if n > 0 {
		a.l.Warn("tls handshakes failed", "count", n, "last", sample)
	}
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
