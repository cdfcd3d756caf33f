package issuer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/integration/pebble"
	"github.com/go-acme/lego/v5/challenge/dns01"
)

// legoTrap stands where lego's process-wide DNS client sends queries: any
// query lego makes (CNAME following, propagation checks) lands here, on
// loopback, and fails the run.
var legoTrap *testDNS

func TestMain(m *testing.M) {
	trap, stop, err := newTestDNS()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	legoTrap = trap
	dns01.SetDefaultClient(dns01.NewClient(&dns01.Options{
		RecursiveNameservers: []string{trap.addr},
		Timeout:              time.Second,
	}))
	code := m.Run()
	stop()
	if n := trap.queries.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: lego sent %d DNS queries; it must send none\n", n)
		code = 1
	}
	os.Exit(code)
}

var discard = slog.New(slog.DiscardHandler)

// testEnv is a Pebble CA validating against a test DNS server, and the
// config of an Issuer for it.
type testEnv struct {
	ca     *pebble.CA
	dns    *testDNS
	solver *testSolver
	cfg    Config
}

func newTestEnv(t *testing.T, opts pebble.Options) *testEnv {
	t.Helper()
	d := startTestDNS(t)
	opts.DNSServer = d.addr
	if opts.Logger == nil {
		opts.Logger = discard
	}
	ca := pebble.StartTB(t, opts)
	dir := t.TempDir()
	bundle := filepath.Join(dir, "pebble-tls.pem")
	if err := ca.WriteTLSRoot(bundle); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Name:         "pebble",
		DirectoryURL: ca.DirectoryURL(),
		Email:        "hostmaster@example.org",
		CABundle:     bundle,
		AccountDir:   filepath.Join(dir, "acme", "pebble"),
		Logger:       discard,
	}
	if opts.EAB {
		cfg.EABKeyID, cfg.EABHMAC = ca.EAB()
	}
	return &testEnv{ca: ca, dns: d, solver: &testSolver{dns: d}, cfg: cfg}
}

func (e *testEnv) issuer(t *testing.T) *Issuer {
	t.Helper()
	i, err := New(testCtx(t), e.cfg, e.solver)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// Pebble's graceful Close waits a second for HTTP/2 connections the
	// client keeps open; closing them first keeps tests quick.
	t.Cleanup(i.transport.(*http.Transport).CloseIdleConnections)
	return i
}

// testCtx is t's context with a deadline well inside the test timeout.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newCSR makes a key and a CSR for names (CN = first non-wildcard name).
func newCSR(t testing.TB, names ...string) (*x509.CertificateRequest, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.CertificateRequest{DNSNames: names}
	for _, n := range names {
		if !strings.HasPrefix(n, "*.") {
			tmpl.Subject = pkix.Name{CommonName: n}
			break
		}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return csr, key
}

// checkIssued verifies cert: names, key, chain to the CA's roots.
func checkIssued(t testing.TB, ca *pebble.CA, cert *Certificate, key crypto.Signer, names ...string) {
	t.Helper()
	if cert == nil || cert.Leaf == nil {
		t.Fatal("no certificate")
	}
	_, certs, err := parseChain([]byte(cert.ChainPEM))
	if err != nil {
		t.Fatalf("ChainPEM: %v", err)
	}
	if len(certs) < 2 {
		t.Fatalf("ChainPEM has %d certificates, want leaf and intermediate", len(certs))
	}
	if !certs[0].Equal(cert.Leaf) {
		t.Fatal("Leaf is not the first certificate of ChainPEM")
	}
	got := slices.Sorted(slices.Values(cert.Leaf.DNSNames))
	want := slices.Sorted(slices.Values(names))
	if !slices.Equal(got, want) {
		t.Fatalf("leaf names %v, want %v", got, want)
	}
	if !key.Public().(*ecdsa.PublicKey).Equal(cert.Leaf.PublicKey) {
		t.Fatal("leaf public key is not the CSR's")
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca.RootsPEM()) {
		t.Fatal("no roots")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: names[0]}); err != nil {
		t.Fatalf("verify chain: %v", err)
	}
	if n := legoTrap.queries.Load(); n != 0 {
		t.Errorf("lego sent %d DNS queries; it must send none", n)
	}
	if !strings.HasPrefix(cert.CertURL, "https://") {
		t.Fatalf("CertURL %q", cert.CertURL)
	}
}
