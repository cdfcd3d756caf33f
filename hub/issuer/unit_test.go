package issuer

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certfleet/certfleet/integration/pebble"
	"github.com/go-acme/lego/v5/acme"
	legolog "github.com/go-acme/lego/v5/log"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	good := Config{Name: "le", DirectoryURL: "https://acme.example/dir", AccountDir: "/var/lib/x"}
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{name: "minimal", edit: func(*Config) {}},
		{name: "full", edit: func(c *Config) {
			c.Email, c.KeyType, c.EABKeyID, c.EABHMAC = "ops@example.org", "RSA2048", "kid", "c2VjcmV0"
		}},
		{name: "no name", edit: func(c *Config) { c.Name = " " }, want: "ca.name: required"},
		{name: "no directory", edit: func(c *Config) { c.DirectoryURL = "" }, want: `ca "le": directory: required`},
		{name: "http directory", edit: func(c *Config) { c.DirectoryURL = "http://acme.example/dir" }, want: "want an https:// URL"},
		{name: "bad url", edit: func(c *Config) { c.DirectoryURL = "https://%zz" }, want: "directory:"},
		{name: "no account dir", edit: func(c *Config) { c.AccountDir = "" }, want: "account directory: required"},
		{name: "bad key type", edit: func(c *Config) { c.KeyType = "ed25519" }, want: `key_type "ed25519"`},
		{name: "eab half", edit: func(c *Config) { c.EABKeyID = "kid" }, want: "eab_kid and eab_hmac"},
		{name: "eab bad hmac", edit: func(c *Config) { c.EABKeyID, c.EABHMAC = "kid", "not base64!" }, want: "eab_hmac: not base64url"},
		{name: "bad email", edit: func(c *Config) { c.Email = "ops at example" }, want: "email"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v; want %q", err, tc.want)
			}
		})
	}
}

func TestChallengeRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		identifier, fqdn string
	}{
		{"www.example.org", "_acme-challenge.www.example.org."},
		{"*.example.org", "_acme-challenge.example.org."},
		{"WWW.Example.ORG.", "_acme-challenge.www.example.org."},
		{"example.org", "_acme-challenge.example.org."},
	}
	for _, tc := range tests {
		t.Run(tc.identifier, func(t *testing.T) {
			if got := challengeFQDN(tc.identifier); got != tc.fqdn {
				t.Errorf("challengeFQDN(%q) = %q, want %q", tc.identifier, got, tc.fqdn)
			}
		})
	}
	// lego's own test vector.
	if got := challengeValue("123"); got != "pmWkWSBCL51Bfkhn79xPuKBKHz__H6B-mY6G9_eieuM" {
		t.Errorf("challengeValue(123) = %q", got)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	problem := func(typ, url string) *acme.ProblemDetails {
		return &acme.ProblemDetails{Type: typ, Detail: "the detail", HTTPStatus: 403, URL: url}
	}
	tests := []struct {
		name string
		err  error
		is   error
		not  error
	}{
		{name: "rate limit", err: &acme.RateLimitedError{ProblemDetails: problem(acme.RateLimitedErrorType, "https://ca/new-order"), RetryAfter: time.Minute}, is: ErrRateLimited},
		{name: "invalid profile", err: problem(acme.InvalidProfileErrorType, "https://ca/new-order"), is: ErrUnknownProfile},
		{name: "challenge invalid", err: fmt.Errorf("resolver: [x: invalid challenge: %w]", problem(acme.UnauthorizedErrorType, "")), is: ErrChallengeFailed},
		{name: "caa", err: problem(acme.CaaErrorType, ""), is: ErrChallengeFailed},
		{name: "unauthorized request", err: problem(acme.UnauthorizedErrorType, "https://ca/new-order"), is: ErrCARefused, not: ErrChallengeFailed},
		{name: "rejected identifier", err: problem(acme.RejectedIdentifierErrorType, "https://ca/new-order"), is: ErrCARefused},
		{name: "network", err: &url.Error{Op: "Post", URL: "https://ca", Err: errors.New("connection refused")}, is: ErrCAUnreachable},
		{name: "solver", err: fmt.Errorf("dns01: %w", &solverError{op: "present", fqdn: "x.", err: errors.New("down")}), is: ErrSolver, not: ErrCAUnreachable},
		{name: "canceled", err: fmt.Errorf("post: %w", &url.Error{Err: context.Canceled}), is: context.Canceled, not: ErrCAUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := classify("obtain x", tc.err)
			if !errors.Is(err, tc.is) {
				t.Errorf("classify: %v is not %v", err, tc.is)
			}
			if tc.not != nil && errors.Is(err, tc.not) {
				t.Errorf("classify: %v is also %v", err, tc.not)
			}
			if !strings.HasPrefix(err.Error(), "obtain x: ") {
				t.Errorf("message %q lacks the operation", err)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("classify dropped the cause")
			}
		})
	}
	rl := classify("op", &acme.RateLimitedError{ProblemDetails: problem(acme.RateLimitedErrorType, "u"), RetryAfter: time.Hour})
	if at, ok := RetryAfter(rl); !ok || time.Until(at) < 59*time.Minute {
		t.Errorf("RetryAfter = %s, %v", at, ok)
	}
	if _, ok := RetryAfter(errors.New("other")); ok {
		t.Error("RetryAfter found a time in an unrelated error")
	}
	if _, ok := RetryAfter(classify("op", &acme.RateLimitedError{ProblemDetails: problem(acme.RateLimitedErrorType, "u")})); ok {
		t.Error("RetryAfter invented a time the CA did not give")
	}
}

// chainPEM makes a CA and a leaf it signs, as PEM (leaf first).
func chainPEM(t testing.TB) (leaf, ca []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), DNSNames: []string{"x.example.org"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

type chainCase struct {
	name  string
	data  []byte
	certs int // 0 = error
}

func chainCases(t testing.TB) []chainCase {
	leaf, ca := chainPEM(t)
	crlf := bytes.ReplaceAll(append(append([]byte{}, leaf...), ca...), []byte("\n"), []byte("\r\n"))
	return []chainCase{
		{name: "leaf and CA", data: append(append([]byte{}, leaf...), ca...), certs: 2},
		{name: "leaf only", data: leaf, certs: 1},
		{name: "CRLF and junk around", data: append(append([]byte("junk\r\n"), crlf...), "trailer"...), certs: 2},
		{name: "CA first", data: append(append([]byte{}, ca...), leaf...)},
		{name: "key block", data: append(append([]byte{}, leaf...), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"...)},
		{name: "garbage DER", data: []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")},
		{name: "empty", data: nil},
		{name: "eleven", data: bytes.Repeat(leaf, 11)},
	}
}

func TestParseChain(t *testing.T) {
	t.Parallel()
	for _, tc := range chainCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			out, certs, err := parseChain(tc.data)
			if tc.certs == 0 {
				if err == nil {
					t.Fatalf("parseChain accepted it")
				}
				return
			}
			if err != nil || len(certs) != tc.certs {
				t.Fatalf("parseChain: %d certs, %v; want %d", len(certs), err, tc.certs)
			}
			if strings.Count(out, "BEGIN CERTIFICATE") != tc.certs || strings.Contains(out, "\r") || strings.Contains(out, "junk") {
				t.Errorf("re-encoded chain not canonical:\n%s", out)
			}
		})
	}
}

func FuzzParseChain(f *testing.F) {
	for _, tc := range chainCases(f) {
		f.Add(tc.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, certs, err := parseChain(data)
		if err != nil {
			return
		}
		if len(certs) == 0 || len(certs) > maxChainCerts || certs[0].IsCA {
			t.Fatalf("accepted %d certificates (leaf is CA: %v)", len(certs), len(certs) > 0 && certs[0].IsCA)
		}
		// The canonical form parses to the same certificates.
		out2, certs2, err := parseChain([]byte(out))
		if err != nil || out2 != out || len(certs2) != len(certs) {
			t.Fatalf("re-parse: %v", err)
		}
	})
}

// recorder is a slog.Handler keeping records.
type recorder struct {
	level slog.Level
	mu    sync.Mutex
	recs  []slog.Record
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}
func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{r, as}
}
func (r *recorder) WithGroup(string) slog.Handler { return r }

// find returns the first record with msg, its level and component attr.
func (r *recorder) find(msg string) (slog.Level, string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.recs {
		if rec.Message != msg {
			continue
		}
		comp := ""
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "component" {
				comp = a.Value.String()
			}
			return true
		})
		return rec.Level, comp, true
	}
	return 0, "", false
}

// withAttrs adds attrs to each record, so find sees With attributes.
type withAttrs struct {
	*recorder
	as []slog.Attr
}

func (w *withAttrs) Handle(ctx context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(w.as...)
	return w.recorder.Handle(ctx, rec)
}
func (w *withAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{w.recorder, append(append([]slog.Attr{}, w.as...), as...)}
}

// TestLegoLogs is not parallel: lego's logger is process-wide.
func TestLegoLogs(t *testing.T) {
	e := newTestEnv(t, pebble.Options{})
	debug := &recorder{level: slog.LevelDebug}
	e.cfg.Logger = slog.New(debug)
	e.issuer(t)
	level, comp, ok := debug.find("Registering the account.")
	if !ok || level != slog.LevelDebug || comp != "lego" {
		t.Fatalf("lego's registration log: found=%v level=%v component=%q; want debug, lego", ok, level, comp)
	}
	if _, _, ok := debug.find("registered ACME account"); !ok {
		t.Error("the issuer's own log is missing")
	}

	info := &recorder{level: slog.LevelInfo}
	e.cfg.Logger = slog.New(info)
	e.cfg.AccountDir = t.TempDir()
	e.issuer(t)
	if _, _, ok := info.find("Registering the account."); ok {
		t.Error("lego's info chatter reached an info-level logger")
	}
	legolog.Warn("test warning")
	if level, comp, ok := info.find("test warning"); !ok || level != slog.LevelWarn || comp != "lego" {
		t.Errorf("lego warning: found=%v level=%v component=%q", ok, level, comp)
	}
	e.cfg.Logger = discard
	e.issuer(t) // leave lego's log with a logger that outlives this test
}

func TestDemote(t *testing.T) {
	t.Parallel()
	for in, want := range map[slog.Level]slog.Level{
		slog.LevelDebug: slog.LevelDebug - 4,
		slog.LevelInfo:  slog.LevelDebug,
		slog.LevelWarn:  slog.LevelWarn,
		slog.LevelError: slog.LevelError,
	} {
		if got := demote(in); got != want {
			t.Errorf("demote(%v) = %v, want %v", in, got, want)
		}
	}
}
