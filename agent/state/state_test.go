package state

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func sample() *State {
	s := New()
	s.AgentID = "agent1"
	c := s.Cert("web")
	c.Spec = Spec{Names: []string{"www.example.org"}, KeyType: "ec256"}
	c.Serial = "abc123"
	c.NotBefore = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.NotAfter = c.NotBefore.Add(90 * 24 * time.Hour)
	c.LastResult = ResultOK
	c.Pending = &Pending{RequestID: "abcdefgh12345678", Spec: c.Spec, Reason: "renew", CSR: "csr", Created: c.NotBefore}
	return s
}

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s := sample()
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("state file mode %v", fi.Mode().Perm())
		}
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c := back.Certificates["web"]
	if back.AgentID != "agent1" || c.Serial != "abc123" || !c.NotAfter.Equal(s.Certificates["web"].NotAfter) ||
		c.Pending == nil || c.Pending.RequestID != "abcdefgh12345678" || !c.Spec.Equal(s.Certificates["web"].Spec) {
		t.Fatalf("round trip: %+v", c)
	}
}

// TestParseNormalizesOldKeyTypes: a state file an older agent wrote with
// ecdsa-p256 compares equal to today's configuration (ec256), so an
// upgrade does not drop a pending request or reset back-off.
func TestParseNormalizesOldKeyTypes(t *testing.T) {
	doc := `{"version":1,"certificates":{"web":{
		"spec":{"names":["www.example.org"],"key_type":"ecdsa-p256"},
		"last_spec":{"names":["www.example.org"],"key_type":"ecdsa-p384"},
		"pending":{"request_id":"abcdefgh12345678","spec":{"names":["www.example.org"],"key_type":"ecdsa-p256"}}},
		"mail":{"spec":{"names":["mail.example.org"],"key_type":"rsa2048"}},
		"odd":{"spec":{"names":["odd.example.org"],"key_type":"dsa"}}}}`
	s, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	web := s.Certificates["web"]
	tests := []struct{ name, got, want string }{
		{"installed spec", web.Spec.KeyType, "ec256"},
		{"last spec", web.LastSpec.KeyType, "ec384"},
		{"pending spec", web.Pending.Spec.KeyType, "ec256"},
		{"today's spelling kept", s.Certificates["mail"].Spec.KeyType, "rsa2048"},
		{"unknown left alone", s.Certificates["odd"].Spec.KeyType, "dsa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("key_type = %q, want %q", tt.got, tt.want)
			}
		})
	}
	if !web.Pending.Spec.Equal(Spec{Names: []string{"www.example.org"}, KeyType: "ec256"}) {
		t.Error("old pending spec differs from today's configuration")
	}
}

func TestLoadMissingIsEmpty(t *testing.T) {
	s, err := Load(filepath.Join(t.TempDir(), "none.json"))
	if err != nil || len(s.Certificates) != 0 || s.Version != Version {
		t.Fatalf("missing state: %+v, %v", s, err)
	}
}

var parseErrors = []struct{ name, in, want string }{
	{"not json", "{", "parse state"},
	{"wrong version", `{"version":2,"certificates":{}}`, "version 2"},
	{"bad block name", `{"version":1,"certificates":{"../x":{}}}`, "cert_name"},
	{"bad pending id", `{"version":1,"certificates":{"web":{"pending":{"request_id":"x"}}}}`, "request_id"},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range parseErrors {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSpecEqual(t *testing.T) {
	a := Spec{Names: []string{"a.example.org", "b.example.org"}, KeyType: "rsa2048"}
	for name, tc := range map[string]struct {
		b    Spec
		want bool
	}{
		"same":         {Spec{Names: []string{"a.example.org", "b.example.org"}, KeyType: "rsa2048"}, true},
		"order":        {Spec{Names: []string{"b.example.org", "a.example.org"}, KeyType: "rsa2048"}, true},
		"name added":   {Spec{Names: []string{"a.example.org", "b.example.org", "c.example.org"}, KeyType: "rsa2048"}, false},
		"key type":     {Spec{Names: []string{"a.example.org", "b.example.org"}, KeyType: "rsa3072"}, false},
		"profile":      {Spec{Names: []string{"a.example.org", "b.example.org"}, KeyType: "rsa2048", Profile: "x"}, false},
		"nil vs names": {Spec{KeyType: "rsa2048"}, false},
	} {
		if got := a.Equal(tc.b); got != tc.want {
			t.Errorf("%s: Equal = %v", name, got)
		}
	}
}

// FuzzParseState: any bytes parse or fail cleanly; what parses saves and
// parses again the same.
func FuzzParseState(f *testing.F) {
	for _, tc := range parseErrors {
		f.Add([]byte(tc.in))
	}
	path := filepath.Join(f.TempDir(), "seed.json")
	_ = sample().Save(path)
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		p := filepath.Join(t.TempDir(), "s.json")
		if err := s.Save(p); err != nil {
			t.Fatalf("save parsed state: %v", err)
		}
		if _, err := Load(p); err != nil {
			t.Fatalf("reload saved state: %v", err)
		}
	})
}
