// Package logsum logs a kind of message that can come by the thousand (a
// storm of failed handshakes, of dropped requests) as at most one line per
// interval: how many came since the last line, and the latest one's
// details. The first of a quiet spell is logged at once; the count of the
// rest is logged when the interval ends, even if nothing more comes.
package logsum

import (
	"log/slog"
	"sync"
	"time"
)

// Summary sums one kind of message. It is safe for concurrent use.
type Summary struct {
	log   *slog.Logger
	msg   string
	every time.Duration

	mu      sync.Mutex
	last    time.Time
	count   int
	attrs   []any
	pending bool // a flush at the end of the interval is scheduled
}

// New returns a Summary logging msg as a warning at most once per every.
func New(log *slog.Logger, msg string, every time.Duration) *Summary {
	return &Summary{log: log, msg: msg, every: every}
}

// Add counts one message; attrs (slog key-value pairs) describe it and are
// logged with the count if it is the latest of its line.
func (s *Summary) Add(now time.Time, attrs ...any) {
	s.mu.Lock()
	s.count++
	s.attrs = attrs
	if since := now.Sub(s.last); since < s.every {
		if !s.pending {
			s.pending = true
			time.AfterFunc(s.every-since, func() { s.Flush(time.Now()) })
		}
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.Flush(now)
}

// Flush logs what was counted since the last line, if anything.
func (s *Summary) Flush(now time.Time) {
	s.mu.Lock()
	n, attrs := s.count, s.attrs
	s.count, s.last, s.pending = 0, now, false
	s.mu.Unlock()
	if n > 0 {
		s.log.Warn(s.msg, append([]any{"count", n}, attrs...)...)
	}
}
