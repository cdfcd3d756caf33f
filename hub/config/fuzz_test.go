package config

import (
	"bytes"
	"errors"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/certfleet/certfleet/internal/configfile"
	"github.com/certfleet/certfleet/internal/keytype"
)

// FuzzParseConfig: no input panics; every problem is a FieldError with a
// kind; a config that parses and validates holds today's key types and
// survives encoding and parsing again unchanged.
func FuzzParseConfig(f *testing.F) {
	for _, tt := range parseCases {
		f.Add([]byte(tt.doc))
	}
	f.Add([]byte(StarterConfig(StarterOptions{Domain: "acme.example.org", PublicIPs: []string{"198.51.100.7"}})))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			if !errors.Is(err, configfile.ErrTooLarge) && !hasKinds(err) {
				t.Fatalf("parse error without kinds: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			if !hasKinds(err) {
				t.Fatalf("Validate error without kinds: %v", err)
			}
			return
		}
		for _, ca := range cfg.CA {
			if !keytype.Valid(ca.KeyType) {
				t.Fatalf("key_type %q accepted", ca.KeyType)
			}
		}
		first := encode(t, cfg)
		again, err := ParseConfig(first)
		if err != nil {
			t.Fatalf("re-parse of encoded valid config: %v\n%s", err, first)
		}
		if second := encode(t, again); !bytes.Equal(first, second) {
			t.Fatalf("round trip changed the config:\n%s\n---\n%s", first, second)
		}
	})
}

// hasKinds reports whether err holds FieldErrors, each of a kind.
func hasKinds(err error) bool {
	fes := configfile.FieldErrors(err)
	for _, fe := range fes {
		if fe.Kind == nil {
			return false
		}
	}
	return len(fes) > 0
}

func encode(tb testing.TB, cfg Config) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(cfg); err != nil {
		tb.Fatalf("encode: %v", err)
	}
	return buf.Bytes()
}
