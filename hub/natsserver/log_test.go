package natsserver

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the summary's timer goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogAdapterSumsStorms(t *testing.T) {
	var buf syncBuffer
	a := newLogAdapter(slog.New(slog.NewTextHandler(&buf, nil)))
	for i := range 1000 {
		a.Errorf("%s - cid:%d - TLS handshake error: EOF", "127.0.0.1:1234", i)
		a.Warnf("%s - cid:%d - Readloop processing time: %s", "127.0.0.1:1234", i, 2*time.Second)
	}
	a.Errorf("a real error %d", 1)
	a.Warnf("a real warning")
	out := buf.String()
	for _, want := range []string{
		`msg="tls handshakes failed" count=1 `, // the first at once
		`msg="client read loops were slow (server busy)" count=1 `,
		`msg="a real error 1"`, `msg="a real warning"`,
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 4 {
		t.Fatalf("%d lines for 2,000 storm messages and 2 others, want 4:\n%s", n, out)
	}
	// The rest are counted and logged at the end of the interval, with
	// nothing more arriving.
	a.handshakes.Flush(time.Now())
	a.readLoops.Flush(time.Now())
	out = buf.String()
	if !strings.Contains(out, `msg="tls handshakes failed" count=999 last="127.0.0.1:1234 - cid:999 - TLS handshake error: EOF"`) ||
		!strings.Contains(out, `msg="client read loops were slow (server busy)" count=999`) {
		t.Fatalf("suppressed messages not summed:\n%s", out)
	}
}
