package pebble

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/lego"
	"github.com/go-acme/lego/v5/registration"
)

var quiet = slog.New(slog.DiscardHandler)

// fakeDNS is an address nothing answers on; these tests never validate.
const fakeDNS = "127.0.0.1:9"

// client returns an HTTPS client trusting only the CA's TLS root.
func client(t *testing.T, c *CA) *http.Client {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(c.TLSRootPEM()) {
		t.Fatal("TLSRootPEM holds no certificate")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func get(t *testing.T, hc *http.Client, url string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

func TestStartOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{name: "no DNS server", opts: Options{}, want: "DNSServer is required"},
		{name: "bad DNS server", opts: Options{DNSServer: "localhost"}, want: "DNSServer"},
		{name: "authz reuse", opts: Options{DNSServer: fakeDNS, AuthzReusePercent: 101}, want: "AuthzReusePercent"},
		{name: "no profiles", opts: Options{DNSServer: fakeDNS, Profiles: map[string]Profile{}}, want: "at least one profile"},
		{name: "bad listen address", opts: Options{DNSServer: fakeDNS, Listen: "256.0.0.1:0"}, want: "listen"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Logger = quiet
			c, err := Start(tc.opts)
			if err == nil {
				_ = c.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start: %v; want %q", err, tc.want)
			}
		})
	}
}

func TestDirectory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     Options
		profiles map[string]string
	}{
		{name: "defaults", opts: Options{},
			profiles: map[string]string{"classic": "90-day certificates", "shortlived": "160-hour certificates"}},
		{name: "custom profiles and EAB", opts: Options{EAB: true, Profiles: map[string]Profile{"only": {Description: "the one"}}},
			profiles: map[string]string{"only": "the one"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.DNSServer, tc.opts.Logger = fakeDNS, quiet
			c := StartTB(t, tc.opts)
			if !strings.HasPrefix(c.DirectoryURL(), "https://127.0.0.1:") || !strings.HasSuffix(c.DirectoryURL(), "/dir") {
				t.Fatalf("DirectoryURL %q", c.DirectoryURL())
			}
			status, _, body := get(t, client(t, c), c.DirectoryURL())
			if status != http.StatusOK {
				t.Fatalf("directory: HTTP %d", status)
			}
			var dir acme.Directory
			if err := json.Unmarshal(body, &dir); err != nil {
				t.Fatal(err)
			}
			if dir.NewOrderURL == "" || dir.RenewalInfo == "" {
				t.Errorf("directory lacks newOrder or renewalInfo: %s", body)
			}
			if len(dir.Meta.Profiles) != len(tc.profiles) {
				t.Errorf("profiles %v, want %v", dir.Meta.Profiles, tc.profiles)
			}
			for k, v := range tc.profiles {
				if dir.Meta.Profiles[k] != v {
					t.Errorf("profile %s: %q, want %q", k, dir.Meta.Profiles[k], v)
				}
			}
			if dir.Meta.ExternalAccountRequired != tc.opts.EAB {
				t.Errorf("externalAccountRequired %v, want %v", dir.Meta.ExternalAccountRequired, tc.opts.EAB)
			}
			kid, hmac := c.EAB()
			if (kid != "" && hmac != "") != tc.opts.EAB {
				t.Errorf("EAB() = %q, %q with EAB=%v", kid, hmac, tc.opts.EAB)
			}
		})
	}
}

func TestRootsAndManagement(t *testing.T) {
	t.Parallel()
	c := StartTB(t, Options{DNSServer: fakeDNS, Logger: quiet, ChainLength: 2})
	hc := client(t, c)
	for _, tc := range []struct {
		path string
		want []byte
	}{
		{"/roots/0", c.RootsPEM()},
		{"/intermediates/0", c.IntermediatesPEM()},
	} {
		status, _, body := get(t, hc, c.ManagementURL()+tc.path)
		if status != http.StatusOK || !bytes.Equal(body, tc.want) {
			t.Errorf("%s: HTTP %d, body equal to ours: %v", tc.path, status, bytes.Equal(body, tc.want))
		}
	}
	block, _ := pem.Decode(c.RootsPEM())
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !root.IsCA {
		t.Fatalf("root: %v", err)
	}
	// The HTTPS root is not the issuing root.
	if bytes.Equal(c.RootsPEM(), c.TLSRootPEM()) {
		t.Error("TLS root and issuing root are the same")
	}
}

func TestWriteTLSRoot(t *testing.T) {
	t.Parallel()
	c := StartTB(t, Options{DNSServer: fakeDNS, Logger: quiet})
	path := filepath.Join(t.TempDir(), "sub", "pebble.pem")
	if err := c.WriteTLSRoot(path); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, c.TLSRootPEM()) {
		t.Fatalf("file holds other bytes (%v)", err)
	}
	// A client trusting only that file reaches the directory; one trusting
	// nothing extra does not.
	bad := &http.Client{Timeout: 5 * time.Second}
	if _, err := bad.Get(c.DirectoryURL()); err == nil {
		t.Error("directory reachable without trusting the TLS root")
	}
}

// register registers u's key with lego.
func register(t *testing.T, c *CA, u *legoUser) {
	t.Helper()
	cfg := lego.NewConfig(u)
	cfg.CADirURL = c.DirectoryURL()
	cfg.HTTPClient = client(t, c)
	lc, err := lego.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := lc.Registration.Register(t.Context(), registration.RegisterOptions{TermsOfServiceAgreed: true})
	if err != nil {
		t.Fatal(err)
	}
	u.reg = reg
}

func TestStatsAndRateLimit(t *testing.T) {
	t.Parallel()
	c := StartTB(t, Options{DNSServer: fakeDNS, Logger: quiet})
	u := newUser(t)
	register(t, c, u)
	register(t, c, &legoUser{key: u.key}) // same key: the existing account
	if s := c.Stats(); s.AccountsCreated != 1 {
		t.Fatalf("stats %+v: want one account created", s)
	}

	c.RateLimitOrders(1, 1500*time.Millisecond)
	hc := client(t, c)
	post := func() (*http.Response, []byte) {
		resp, err := hc.Post(strings.Replace(c.DirectoryURL(), "/dir", pathNewOrder, 1), "application/jose+json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := post()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" ||
		!strings.Contains(string(body), "urn:ietf:params:acme:error:rateLimited") {
		t.Fatalf("limited order: HTTP %d, Retry-After %q, %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, _ = post()
	if resp.StatusCode == http.StatusTooManyRequests {
		t.Fatal("second order rate limited too; the limit was for one")
	}
	if s := c.Stats(); s.RateLimited != 1 || s.OrdersCreated != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestChallengeRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		after time.Duration
		want  string
	}{
		{name: "pebble default", after: 0, want: ""},
		{name: "rounded up", after: 1500 * time.Millisecond, want: "2"},
		{name: "at least a second", after: time.Millisecond, want: "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := StartTB(t, Options{DNSServer: fakeDNS, Logger: quiet, ChallengeRetryAfter: tc.after})
			url := strings.Replace(c.DirectoryURL(), "/dir", pathChallenge+"nosuch", 1)
			resp, err := client(t, c).Post(url, "application/jose+json", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if got := resp.Header.Get("Retry-After"); got != tc.want {
				t.Errorf("Retry-After %q, want %q", got, tc.want)
			}
		})
	}
}

// Lost responses of accepted finalize requests are tested with a real
// order in hub/issuer (TestResumeAfterLostFinalizeResponse); here: a
// refused finalize is answered and does not use the loss up.
func TestLoseFinalizeResponsesRefused(t *testing.T) {
	t.Parallel()
	c := StartTB(t, Options{DNSServer: fakeDNS, Logger: quiet})
	c.LoseFinalizeResponses(1)
	hc := client(t, c)
	url := strings.Replace(c.DirectoryURL(), "/dir", pathFinalize+"nosuch", 1)
	for range 2 {
		resp, err := hc.Post(url, "application/jose+json", strings.NewReader("{}"))
		if err != nil {
			t.Fatalf("refused finalize: %v; want its answer", err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK || !strings.Contains(string(body), "urn:ietf:params:acme:error:") {
			t.Errorf("finalize of an unknown order: HTTP %d %s; want Pebble's problem", resp.StatusCode, body)
		}
	}
	if !c.mw.dropsLeft() {
		t.Error("refused finalize requests used up the lost response")
	}
	if s := c.Stats(); s.OrdersFinalized != 0 {
		t.Errorf("stats %+v: a refused finalize was counted", s)
	}
}

func TestEnvRestored(t *testing.T) {
	// Not parallel: it reads the process environment Start changes.
	if v, ok := os.LookupEnv("PEBBLE_VA_NOSLEEP"); ok {
		t.Skipf("PEBBLE_VA_NOSLEEP is set (%q) in this environment", v)
	}
	t.Setenv("PEBBLE_AUTHZREUSE", "77")
	StartTB(t, Options{DNSServer: fakeDNS, Logger: quiet})
	if _, ok := os.LookupEnv("PEBBLE_VA_NOSLEEP"); ok {
		t.Error("PEBBLE_VA_NOSLEEP left set")
	}
	if v := os.Getenv("PEBBLE_AUTHZREUSE"); v != "77" {
		t.Errorf("PEBBLE_AUTHZREUSE = %q, want the caller's 77 back", v)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	c, err := Start(Options{DNSServer: fakeDNS, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hc := client(t, c)
	if status, _, _ := get(t, hc, c.DirectoryURL()); status != http.StatusOK {
		t.Fatalf("HTTP %d", status)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	hc.Transport.(*http.Transport).CloseIdleConnections()
	_, err = hc.Get(c.DirectoryURL())
	var ne *net.OpError
	if !errors.As(err, &ne) {
		t.Fatalf("GET after Close: %v; want a connection error", err)
	}
}

func TestListenAddress(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	c := StartTB(t, Options{DNSServer: fakeDNS, Logger: quiet, Listen: addr, Hosts: []string{"pebble.test"}})
	if c.DirectoryURL() != "https://"+addr+"/dir" {
		t.Fatalf("DirectoryURL %q, want on %s", c.DirectoryURL(), addr)
	}
	// The HTTPS certificate names the extra host.
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // inspecting the certificate only
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	leaf := conn.ConnectionState().PeerCertificates[0]
	if err := leaf.VerifyHostname("pebble.test"); err != nil {
		t.Error(err)
	}
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
}

// legoUser is a minimal registration.User.
type legoUser struct {
	key crypto.Signer
	reg *acme.ExtendedAccount
}

func newUser(t *testing.T) *legoUser {
	k, err := certcrypto.GeneratePrivateKey(certcrypto.EC256)
	if err != nil {
		t.Fatal(err)
	}
	return &legoUser{key: k}
}

func (u *legoUser) GetEmail() string                       { return "" }
func (u *legoUser) GetRegistration() *acme.ExtendedAccount { return u.reg }
func (u *legoUser) GetPrivateKey() crypto.Signer           { return u.key }
