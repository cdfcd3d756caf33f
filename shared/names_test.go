package shared

import (
	"strings"
	"testing"
)

func TestValidateDNSName(t *testing.T) {
	tests := []struct {
		name string
		code Code // "" = valid
	}{
		{"www.example.org", ""},
		{"*.example.org", ""},
		{"xn--bcher-kva.example", ""},
		{"a-b.c1.example.org", ""},
		{"", CodeInvalidName},
		{"localhost", CodeInvalidName},
		{"*.org", CodeInvalidName},
		{"a.*.example.org", CodeInvalidName},
		{"w*.example.org", CodeInvalidName},
		{"-a.example.org", CodeInvalidName},
		{"a..example.org", CodeInvalidName},
		{"a_b.example.org", CodeInvalidName},
		{"www.example.123", CodeInvalidName},
		{strings.Repeat("a", 64) + ".example.org", CodeInvalidName},
		{strings.Repeat("abcdefghi.", 26) + "org", CodeInvalidName},
		{"192.0.2.1", CodeIPNotAllowed},
		{"2001:db8::1", CodeIPNotAllowed},
		{"[::1]", CodeIPNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateDNSName(tt.name)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("rejected valid name: %v", err)
				}
				return
			}
			if err == nil || CodeOf(err) != tt.code {
				t.Fatalf("err = %v, want code %s", err, tt.code)
			}
		})
	}
}

func TestMatchAllow(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"www.example.org", "www.example.org", true},
		{"www.example.org", "ww.example.org", false},
		{"www.example.org", "*.www.example.org", false},
		{"*.corp.example.org", "a.corp.example.org", true},
		{"*.corp.example.org", "corp.example.org", false},
		{"*.corp.example.org", "a.b.corp.example.org", false},
		{"*.corp.example.org", "*.corp.example.org", false},
		{"*.corp.example.org", "acorp.example.org", false},
		{"**.corp.example.org", "a.b.corp.example.org", true},
		{"**.corp.example.org", "a.corp.example.org", true},
		{"**.corp.example.org", "corp.example.org", false},
		{"**.corp.example.org", "xcorp.example.org", false},
		{"**.corp.example.org", "*.corp.example.org", false},
		{"=*.corp.example.org", "*.corp.example.org", true},
		{"=*.corp.example.org", "a.corp.example.org", false},
		{"WWW.Example.org", "www.example.org", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"/"+tt.name, func(t *testing.T) {
			if got := MatchAllow(tt.pattern, tt.name); got != tt.want {
				t.Fatalf("MatchAllow(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
			}
		})
	}
}

func TestValidateAllowPattern(t *testing.T) {
	for _, p := range []string{"www.example.org", "*.corp.example.org", "**.corp.example.org", "=*.corp.example.org"} {
		if err := ValidateAllowPattern(p); err != nil {
			t.Errorf("ValidateAllowPattern(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"", "*", "**.org", "a*.example.org", "*.*.example.org", "=a..b", "10.0.0.1"} {
		if err := ValidateAllowPattern(p); err == nil {
			t.Errorf("ValidateAllowPattern(%q) accepted", p)
		}
	}
}

func TestValidateAgentID(t *testing.T) {
	for _, id := range []string{"web1", "db-2", "a", "x_y"} {
		if err := ValidateAgentID(id); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
	for _, id := range []string{"", "Web", "a.b", "a*", ">", "-a", strings.Repeat("a", 64)} {
		if err := ValidateAgentID(id); err == nil {
			t.Errorf("%q accepted", id)
		}
	}
}

// FuzzMatchAllow checks that matching never lets a name escape its pattern:
// a match implies the name is under the pattern's suffix (or equal).
func FuzzMatchAllow(f *testing.F) {
	f.Add("*.corp.example.org", "a.corp.example.org")
	f.Add("**.corp.example.org", "a.b.corp.example.org")
	f.Add("=*.corp.example.org", "*.corp.example.org")
	f.Add("www.example.org", "www.example.org")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		name = NormalizeName(name)
		if ValidateAllowPattern(pattern) != nil || ValidateDNSName(name) != nil {
			return
		}
		if !MatchAllow(pattern, name) {
			return
		}
		p := strings.ToLower(pattern)
		switch {
		case strings.HasPrefix(p, "="):
			if name != p[1:] {
				t.Fatalf("%q matched %q", pattern, name)
			}
		case strings.HasPrefix(p, "**."), strings.HasPrefix(p, "*."):
			suffix := p[strings.Index(p, "."):]
			if !strings.HasSuffix(name, suffix) || strings.HasPrefix(name, "*") {
				t.Fatalf("%q matched %q", pattern, name)
			}
		default:
			if name != p {
				t.Fatalf("%q matched %q", pattern, name)
			}
		}
	})
}

func FuzzParseEnrollment(f *testing.F) {
	e := &Enrollment{Type: TypeEnrollment, AgentID: "web1", URLs: []string{"tls://127.0.0.1:4222"},
		Creds: "-----BEGIN NATS USER JWT-----\nx\n------END NATS USER JWT------\n-----BEGIN USER NKEY SEED-----\ny\n------END USER NKEY SEED------\n"}
	tok, _ := e.Token()
	f.Add([]byte(tok))
	f.Add([]byte(`{"type":"io.certfleet.v1.enrollment"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseEnrollment(data)
		if err == nil && got.Validate() != nil {
			t.Fatal("parsed enrollment fails Validate")
		}
	})
}
