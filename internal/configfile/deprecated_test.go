package configfile

import (
	"context"
	"log/slog"
	"sync"
	"testing"
)

// recorder keeps the records a logger handles.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func TestLogDeprecated(t *testing.T) {
	rec := &recorder{}
	warnings := []*FieldError{
		Deprecated("certificate[0].key_type", "ecdsa-p256", "ec256"),
		Deprecated("certificate[2].key_type", "ecdsa-p384", "ec384"),
	}
	LogDeprecated(slog.New(rec), "/etc/certfleet-agent/config.toml", warnings)
	if len(rec.records) != len(warnings) {
		t.Fatalf("%d records, want one per warning (%d)", len(rec.records), len(warnings))
	}
	for i, r := range rec.records {
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
		if r.Level != slog.LevelWarn || attrs["file"] != "/etc/certfleet-agent/config.toml" ||
			attrs["field"] != warnings[i].Field || attrs["value"] != warnings[i].Value || attrs["fix"] != warnings[i].Msg {
			t.Errorf("record %d: %v %q %v", i, r.Level, r.Message, attrs)
		}
	}
	LogDeprecated(slog.New(rec), "x", nil)
	if len(rec.records) != len(warnings) {
		t.Error("no warnings logged something")
	}
}
