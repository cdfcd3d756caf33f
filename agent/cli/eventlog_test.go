package cli

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// recordingLogger is a service.Logger that keeps what it was sent.
type recordingLogger struct{ lines []string }

func (r *recordingLogger) rec(level string, v ...any) error {
	r.lines = append(r.lines, level+": "+fmt.Sprint(v...))
	return nil
}
func (r *recordingLogger) Error(v ...any) error   { return r.rec("error", v...) }
func (r *recordingLogger) Warning(v ...any) error { return r.rec("warning", v...) }
func (r *recordingLogger) Info(v ...any) error    { return r.rec("info", v...) }
func (r *recordingLogger) Errorf(f string, a ...any) error {
	return r.rec("error", fmt.Sprintf(f, a...))
}
func (r *recordingLogger) Warningf(f string, a ...any) error {
	return r.rec("warning", fmt.Sprintf(f, a...))
}
func (r *recordingLogger) Infof(f string, a ...any) error { return r.rec("info", fmt.Sprintf(f, a...)) }

func TestEventLogHandler(t *testing.T) {
	var text bytes.Buffer
	ev := &recordingLogger{}
	log := slog.New(eventLogHandler{next: slog.NewTextHandler(&text, nil), log: ev}).With("cert", "web")
	log.Info("certificate installed", "serial", "01")
	log.Warn("reload failed; restoring previous files", "err", "exit status 1")
	log.WithGroup("g").Error("agent failed", "err", "boom")
	want := []string{
		"warning: reload failed; restoring previous files cert=web err=exit status 1",
		"error: agent failed cert=web err=boom",
	}
	if strings.Join(ev.lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("event log got:\n%s\nwant:\n%s", strings.Join(ev.lines, "\n"), strings.Join(want, "\n"))
	}
	if n := strings.Count(text.String(), "\n"); n != 3 {
		t.Errorf("the file log got %d lines, want all 3:\n%s", n, text.String())
	}
}
