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
	// public port, a fleet timing out in a reconnect storm), and slow
	// read loops come by the thousand when a fleet reconnects at once:
	// each kind is summed into one line per summaryEvery.
	handshakes, readLoops *summary
}

// summaryEvery bounds the lines of a summed kind of server message.
const summaryEvery = 10 * time.Second

func newLogAdapter(l *slog.Logger) *logAdapter {
	return &logAdapter{l: l, fatal: make(chan string, 1),
		handshakes: &summary{l: l, msg: "tls handshakes failed"},
		readLoops:  &summary{l: l, msg: "client read loops were slow (server busy)"}}
}

func (a *logAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }

func (a *logAdapter) Warnf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.Contains(msg, " - Readloop processing time: ") {
		a.readLoops.add(msg, time.Now())
		return
	}
	a.l.Warn(msg)
}

func (a *logAdapter) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.Contains(msg, " - TLS handshake error: ") {
		a.handshakes.add(msg, time.Now())
		return
	}
	a.l.Error(msg)
}

// summary logs a kind of message as at most one line per summaryEvery:
// how many came since the last line, and the latest of them.
type summary struct {
	l   *slog.Logger
	msg string

	mu      sync.Mutex
	last    time.Time
	count   int
	sample  string
	pending bool // a flush of the count is scheduled
}

func (s *summary) add(msg string, now time.Time) {
	s.mu.Lock()
	s.count++
	s.sample = msg
	if since := now.Sub(s.last); since < summaryEvery {
		if !s.pending {
			// The count is logged at the end of the interval even if
			// nothing more comes.
			s.pending = true
			time.AfterFunc(summaryEvery-since, func() { s.flush(time.Now()) })
		}
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.flush(now)
}

// flush logs what was counted since the last line.
func (s *summary) flush(now time.Time) {
	s.mu.Lock()
	n, sample := s.count, s.sample
	s.count, s.last, s.pending = 0, now, false
	s.mu.Unlock()
	if n > 0 {
		s.l.Warn(s.msg, "count", n, "last", sample)
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
