package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfigDeprecatedKeyType: a [[ca]] key_type in the agent's old
// spelling loads as today's, and the warning naming the file, the field
// and the new spelling is logged once, in the config's log format.
func TestCheckConfigDeprecatedKeyType(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hub.toml")
	doc := `data_dir = "state"
log_format = "json"
[dns]
domain = "acme.example.org"
[nats]
advertise = ["tls://hub.example.org:4222"]
[[ca]]
name = "le"
directory = "https://acme.example.org/directory"
key_type = "ecdsa-p256"
`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := Execute(context.Background(), []string{"check-config", "--config", path}, &out, &errOut, nil)
	if code != 0 || !strings.Contains(out.String(), path+": ok") {
		t.Fatalf("check-config: exit %d, %q %q", code, out.String(), errOut.String())
	}
	logs := errOut.String()
	if n := strings.Count(logs, "deprecated spelling"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, logs)
	}
	for _, want := range []string{`"level":"WARN"`, `"file":"` + path + `"`, `"field":"ca[0].key_type"`, `"value":"ecdsa-p256"`, `write \"ec256\" instead`} {
		if !strings.Contains(logs, want) {
			t.Errorf("warning lacks %s:\n%s", want, logs)
		}
	}
}

// TestCheckConfigProblems: problems name the file, the field and, for an
// unknown key, its line.
func TestCheckConfigProblems(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"unknown key", "data_dir = \"state\"\n[dns]\ndomian = \"acme.example.org\"\n", `dns.domian (line 3): unknown key: did you mean "dns.domain"?`},
		{"required field", "data_dir = \"state\"\n", "dns.domain: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hub.toml")
			if err := os.WriteFile(path, []byte(tt.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			code := Execute(context.Background(), []string{"check-config", "--config", path}, &out, &errOut, nil)
			if code != 1 || !strings.Contains(errOut.String(), path) || !strings.Contains(errOut.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want 1 and %q", code, errOut.String(), tt.want)
			}
		})
	}
}
