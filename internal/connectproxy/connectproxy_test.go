package connectproxy

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/internal/connectproxy/proxytest"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "http://proxy:3128", "http://proxy:3128"},
		{"auth", "http://u:p@proxy:8080", "http://u:xxxxx@proxy:8080"},
		{"default port", "http://proxy", "http://proxy:3128"},
		{"trailing slash", "http://proxy:3128/", "http://proxy:3128"},
		{"https proxy", "https://proxy:443", ""},
		{"socks", "socks5://proxy:1080", ""},
		{"no scheme", "proxy:3128", ""},
		{"path", "http://proxy:3128/path", ""},
		{"query", "http://proxy:3128?x=1", ""},
		{"no host", "http://", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := ParseURL(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("ParseURL(%q) accepted", tc.in)
				}
				return
			}
			if err != nil || Redact(u) != tc.want {
				t.Fatalf("ParseURL(%q) = %v, %v; want %s", tc.in, u, err, tc.want)
			}
		})
	}
}

func TestParseURLHidesPassword(t *testing.T) {
	_, err := ParseURL("https://user:hunter2@proxy:3128")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("ParseURL error = %v; want an error without the password", err)
	}
}

// speakFirst listens and sends greeting to every connection first, as a
// NATS server sends INFO, then echoes.
func speakFirst(tb testing.TB, greeting string) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.WriteString(c, greeting)
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return l.Addr().String()
}

func TestDial(t *testing.T) {
	target := speakFirst(t, "INFO {}\r\n")
	p := proxytest.Start(t, "127.0.0.1:0", "fleet", "s3cret")
	good, _ := ParseURL("http://fleet:s3cret@" + p.Addr)
	bad, _ := ParseURL("http://fleet:wrong@" + p.Addr)
	none, _ := ParseURL("http://" + p.Addr)

	t.Run("tunnel", func(t *testing.T) {
		c, err := Dial("tcp", good, target, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, len("INFO {}\r\n"))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "INFO {}\r\n" {
			t.Fatalf("first bytes through the tunnel = %q, %v", buf, err)
		}
		if _, err := io.WriteString(c, "PING\r\n"); err != nil {
			t.Fatal(err)
		}
		buf = make([]byte, 6)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "PING\r\n" {
			t.Fatalf("echo = %q, %v", buf, err)
		}
		if got := p.Targets(); len(got) != 1 || got[0] != target {
			t.Fatalf("proxy tunnelled %v, want [%s]", got, target)
		}
	})
	for _, tc := range []struct {
		name  string
		proxy string
		u     func() (string, error)
	}{
		{"wrong password", "407", func() (string, error) { _, err := Dial("tcp", bad, target, 5*time.Second); return "", err }},
		{"no credentials", "407", func() (string, error) { _, err := Dial("tcp", none, target, 5*time.Second); return "", err }},
		{"target down", "502", func() (string, error) {
			l, _ := net.Listen("tcp", "127.0.0.1:0")
			addr := l.Addr().String()
			l.Close()
			_, err := Dial("tcp", good, addr, 5*time.Second)
			return "", err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.u()
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.proxy) || strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("Dial = %v; want a %s refusal without the password", err, tc.proxy)
			}
		})
	}
	t.Run("proxy down", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close()
		u, _ := ParseURL("http://" + addr)
		if _, err := Dial("tcp", u, target, 5*time.Second); err == nil || !strings.Contains(err.Error(), "dial proxy") {
			t.Fatalf("Dial = %v; want a dial error", err)
		}
	})
}
