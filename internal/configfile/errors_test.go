package configfile

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestFieldErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  *FieldError
		want string
	}{
		{"required", &FieldError{Field: "data_dir", Kind: ErrRequired}, "data_dir: required"},
		{"required with hint", &FieldError{Field: "dns.domain", Kind: ErrRequired, Msg: "the zone delegated to the hub"},
			"dns.domain: required: the zone delegated to the hub"},
		{"invalid string quoted", &FieldError{Field: "log_level", Value: "lo\"ud", Kind: ErrInvalid, Msg: "want debug or info"},
			`log_level: "lo\"ud": want debug or info`},
		{"empty string value shown", &FieldError{Field: "ca[0].key_type", Value: "", Kind: ErrInvalid, Msg: "want ec256"},
			`ca[0].key_type: "": want ec256`},
		{"number", &FieldError{Field: "issuance.concurrency", Value: 0, Kind: ErrOutOfRange, Msg: "want 1 to 256"},
			"issuance.concurrency: 0: want 1 to 256"},
		{"stringer unquoted", &FieldError{Field: "agents.creds_ttl", Value: 90 * time.Second, Kind: ErrOutOfRange, Msg: "want at least 1m0s"},
			"agents.creds_ttl: 1m30s: want at least 1m0s"},
		{"conflict", &FieldError{Field: "web.tls_key", Kind: ErrConflict, Msg: "web.tls_cert and web.tls_key go together"},
			"web.tls_key: web.tls_cert and web.tls_key go together"},
		{"duplicate", &FieldError{Field: "ca[1].name", Value: "le", Kind: ErrDuplicate, Msg: "already used by ca[0]"},
			`ca[1].name: "le": already used by ca[0]`},
		{"unknown key with line", &FieldError{Field: "dns.domian", Kind: ErrUnknownKey, Line: 3, Msg: `did you mean "dns.domain"?`},
			`dns.domian (line 3): unknown key: did you mean "dns.domain"?`},
		{"deprecated", Deprecated("certificate[0].key_type", "ecdsa-p256", "ec256"),
			`certificate[0].key_type: "ecdsa-p256": deprecated: write "ec256" instead`},
		{"syntax, no field", &FieldError{Kind: ErrSyntax, Line: 2, Msg: "expected ']'"}, "line 2: syntax error: expected ']'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Fatalf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKindsMatchThroughWrapping(t *testing.T) {
	kinds := []error{ErrRequired, ErrInvalid, ErrOutOfRange, ErrConflict, ErrDuplicate, ErrUnknownKey, ErrDeprecated, ErrSyntax}
	for _, kind := range kinds {
		t.Run(kind.Error(), func(t *testing.T) {
			var es Errors
			es.Add("a", ErrInvalid, nil, "first")
			es.Add("b", kind, nil, "second")
			err := fmt.Errorf("load config x.toml: %w", es.Err())
			if !errors.Is(err, kind) {
				t.Fatalf("errors.Is(%v, %v) = false", err, kind)
			}
			for _, other := range kinds {
				if other != kind && other != ErrInvalid && errors.Is(err, other) {
					t.Errorf("errors.Is(%v, %v) = true", err, other)
				}
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "a" {
				t.Errorf("errors.As found %v", fe)
			}
		})
	}
}

func TestErrorsCollector(t *testing.T) {
	var es Errors
	if es.Err() != nil {
		t.Fatal("empty Errors is not nil")
	}
	es.Required("data_dir", "")
	es.Invalid("log_level", "loud", "want %s or %s", "info", "debug")
	es.OutOfRange("n", -1, "want 0 or more")
	es.Conflict("x", "set without y")
	es.Duplicate("name", "a", "already used by b[0]")
	es.Add("pct", ErrInvalid, nil, "100%% sure")
	err := fmt.Errorf("wrap: %w", es.Err())
	got := FieldErrors(err)
	want := []struct {
		field string
		kind  error
	}{{"data_dir", ErrRequired}, {"log_level", ErrInvalid}, {"n", ErrOutOfRange}, {"x", ErrConflict}, {"name", ErrDuplicate}, {"pct", ErrInvalid}}
	if len(got) != len(want) {
		t.Fatalf("FieldErrors = %v", got)
	}
	for i, w := range want {
		if got[i].Field != w.field || got[i].Kind != w.kind {
			t.Errorf("[%d] = %s %v, want %s %v", i, got[i].Field, got[i].Kind, w.field, w.kind)
		}
	}
	wantText := "data_dir: required\n" + `log_level: "loud": want info or debug` + "\nn: -1: want 0 or more\nx: set without y\n" +
		`name: "a": already used by b[0]` + "\npct: 100% sure"
	if es.Error() != wantText {
		t.Errorf("Error() =\n%s\nwant\n%s", es.Error(), wantText)
	}
	if FieldErrors(nil) != nil || FieldErrors(errors.New("plain")) != nil {
		t.Error("FieldErrors of a plain error is not empty")
	}
}
