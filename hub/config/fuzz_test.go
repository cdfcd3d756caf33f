package config

import (
	"bytes"
	"testing"

	"github.com/BurntSushi/toml"
)

// FuzzParseConfig: no input panics; a config that parses and validates
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
			return
		}
		if cfg.Validate() != nil {
			return
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

func encode(tb testing.TB, cfg Config) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(cfg); err != nil {
		tb.Fatalf("encode: %v", err)
	}
	return buf.Bytes()
}
