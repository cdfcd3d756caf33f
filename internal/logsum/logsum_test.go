package logsum

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

func TestSummaryFlushesByItself(t *testing.T) {
	var buf syncBuffer
	s := New(slog.New(slog.NewTextHandler(&buf, nil)), "storm", 10*time.Second)
	now := time.Now()
	s.Add(now, "last", "one")
	// The second, inside the interval, is held for the timer.
	s.Add(now.Add(10*time.Second-50*time.Millisecond), "last", "two")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), `count=1 last=two`) {
		if time.Now().After(deadline) {
			t.Fatalf("held message never logged:\n%s", buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(buf.String(), `msg=storm count=1 last=one`) {
		t.Fatalf("first message not logged at once:\n%s", buf.String())
	}
}
