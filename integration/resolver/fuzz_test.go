package resolver

import (
	"errors"
	"testing"
)

// FuzzRecord feeds arbitrary text to AddRecord: no panic, and a record it
// accepts can be removed again with the same text.
func FuzzRecord(f *testing.F) {
	for _, r := range []string{
		"example.org. 3600 SOA ns.example.org. hostmaster.example.org. 1 7200 900 1209600 60",
		"_acme-challenge.www.example.org. CNAME x1.acme.test.",
		"www.example.org. A 192.0.2.10",
		"x. A nope", "a. A 192.0.2.1\nb. A 192.0.2.2", "version.bind. CH TXT x", `t. TXT "a\"b"`,
	} {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, text string) {
		r, err := New(Config{}, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.AddRecord(text); err != nil {
			return
		}
		if err := r.RemoveRecord(text); err != nil {
			t.Fatalf("added %q but cannot remove it: %v", text, err)
		}
		if err := r.RemoveRecord(text); !errors.Is(err, ErrNoRecord) {
			t.Fatalf("removed %q twice: %v", text, err)
		}
	})
}
