package keytype

import (
	"slices"
	"testing"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		name, in, want string
		deprecated, ok bool
	}{
		{"ec256", "ec256", EC256, false, true},
		{"ec384", "ec384", EC384, false, true},
		{"rsa2048", "rsa2048", RSA2048, false, true},
		{"rsa3072", "rsa3072", RSA3072, false, true},
		{"rsa4096", "rsa4096", RSA4096, false, true},
		{"old agent P-256", "ecdsa-p256", EC256, true, true},
		{"old agent P-384", "ecdsa-p384", EC384, true, true},
		{"empty", "", "", false, false},
		{"upper case", "EC256", "", false, false},
		{"unknown", "dsa", "", false, false},
		{"rsa8192 (lego has it, agents do not)", "rsa8192", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kt, dep, ok := Canonical(tt.in)
			if kt != tt.want || dep != tt.deprecated || ok != tt.ok {
				t.Fatalf("Canonical(%q) = %q, %v, %v; want %q, %v, %v", tt.in, kt, dep, ok, tt.want, tt.deprecated, tt.ok)
			}
			if Valid(tt.in) != (tt.ok && !tt.deprecated) {
				t.Errorf("Valid(%q) = %v", tt.in, Valid(tt.in))
			}
		})
	}
}

func TestAll(t *testing.T) {
	got := All()
	if got[0] != Default || len(got) != 5 {
		t.Fatalf("All() = %v", got)
	}
	got[0] = "changed"
	if All()[0] != Default {
		t.Fatal("All shares its slice")
	}
	for _, o := range []string{"ecdsa-p256", "ecdsa-p384"} {
		if kt, _, _ := Canonical(o); !slices.Contains(All(), kt) {
			t.Errorf("old spelling %s maps to %q, not a current type", o, kt)
		}
	}
}
