package connectproxy

import (
	"strings"
	"testing"
)

// FuzzParseURL: any input either fails without echoing a password or
// yields an http proxy URL with a host and port.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"http://proxy:3128", "http://u:p@proxy:8080", "http://proxy", "https://p:1", "proxy:3128",
		"http://proxy:3128/path", "http://", "http://u:hunter2@[::1]:3128", "http://%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseURL(raw)
		if err != nil {
			if strings.Contains(raw, ":hunter2@") && strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error shows the password: %v", err)
			}
			return
		}
		if u.Scheme != "http" || u.Hostname() == "" || u.Port() == "" {
			t.Fatalf("ParseURL(%q) = %q: not http://host:port", raw, u)
		}
	})
}
