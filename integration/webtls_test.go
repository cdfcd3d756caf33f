package integration

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/integration/fleet"
)

// clientCA issues client certificates for the dashboard test.
type clientCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newClientCA(t *testing.T) *clientCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "certfleet test client ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &clientCA{cert: c, key: key}
}

func (ca *clientCA) issue(t *testing.T, cn string, emails ...string) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, EmailAddresses: emails,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestDashboardSelfTLSAndClientCerts: with [web] tls = "self" the hub
// obtains the dashboard's certificate for web.hostname from the CA
// (Pebble) through its own DNS and serves it; with client_ca, a client
// certificate logs in as the user its CN or SAN e-mail names, with that
// user's role; one naming nobody is refused; without one the password form
// still works.
func TestDashboardSelfTLSAndClientCerts(t *testing.T) {
	const hostname = "dash." + fleet.HubZone
	ca := newClientCA(t)
	caFile := filepath.Join(t.TempDir(), "client-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, `
[web]
listen = "127.0.0.1:0"
tls = "self"
hostname = "`+hostname+`"
client_ca = "`+caFile+`"
`)
	c := ctx(t)
	base := env.HubRun().Web
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("run file web URL %q", base)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(base, "https://"), "/")
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(env.Pebble.RootsPEM()) {
		t.Fatal("no pebble roots")
	}
	// The name, as a browser would use it, resolved to the listener.
	url := "https://" + hostname + ":" + addr[strings.LastIndex(addr, ":")+1:]
	client := func(cert *tls.Certificate) *http.Client {
		jar, _ := cookiejar.New(nil)
		cfg := &tls.Config{RootCAs: roots, ServerName: hostname}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		return &http.Client{Jar: jar, Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}}}
	}

	// The certificate: for the hostname, issued by the CA's intermediate,
	// verifying to its root (the handshake checks that).
	var state tls.ConnectionState
	if err := fleet.Await(c, 90*time.Second, func() (bool, error) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: hostname})
		if err != nil {
			return false, nil
		}
		state = conn.ConnectionState()
		conn.Close()
		return true, nil
	}); err != nil {
		t.Fatalf("the dashboard never served a certificate for %s verifying to the CA: %v", hostname, err)
	}
	leaf := state.PeerCertificates[0]
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != hostname {
		t.Fatalf("served certificate names %v, want [%s]", leaf.DNSNames, hostname)
	}
	chain := state.VerifiedChains[0]
	if len(chain) < 3 || leaf.Issuer.String() != chain[1].Subject.String() || !strings.Contains(chain[1].Subject.CommonName, "Pebble") {
		t.Fatalf("served certificate issued by %s (chain %d long), want Pebble's intermediate", leaf.Issuer, len(chain))
	}

	addUser(t, env, "alice", "admin", "correct horse battery")
	cmd := exec.Command(filepath.Join(binDir, "certfleet-hub"), "--config", env.HubConfig, "user", "add", "victor", "--role", "readonly", "--email", "victor@example.test")
	cmd.Stdin = strings.NewReader("viewer password 1\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user add victor: %v\n%s", err, out)
	}
	get := func(hc *http.Client, path string) (int, string) {
		t.Helper()
		resp, err := hc.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		name string
		cert *tls.Certificate
		code int
		want string
	}{
		{"CN names an admin", ca.issue(t, "alice"), http.StatusOK, `<span class="who">alice (admin)</span>`},
		{"SAN e-mail names a read-only user", ca.issue(t, "Victor Viewer", "victor@example.test"), http.StatusOK, `<span class="who">victor (read-only)</span>`},
		{"unknown CN refused", ca.issue(t, "mallory"), http.StatusForbidden, "(CN=mallory) is not a dashboard user"},
		{"no certificate: the password form", nil, http.StatusOK, `id="password"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(client(tc.cert), "/")
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("GET /: %d, want %d with %q:\n%s", code, tc.code, tc.want, body)
			}
		})
	}
	// Without a certificate the password still logs in.
	w := newWebClient(t, url)
	w.c = client(nil)
	if tok, code := w.login("alice", "correct horse battery"); tok == "" {
		t.Fatalf("password login over the self-obtained certificate: %d", code)
	}
}
