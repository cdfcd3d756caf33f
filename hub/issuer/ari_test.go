package issuer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/integration/pebble"
	"github.com/go-acme/lego/v5/acme/api"
)

func TestRenewalInfoAndReplaces(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	iss := e.issuer(t)
	csr, key := newCSR(t, "www.example.org")
	cert, err := iss.Obtain(testCtx(t), Request{CSR: csr, Profile: "classic"})
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf

	ri, err := iss.RenewalInfo(testCtx(t), leaf)
	if err != nil {
		t.Fatalf("RenewalInfo: %v", err)
	}
	if !ri.WindowStart.Before(ri.WindowEnd) || ri.WindowStart.Before(leaf.NotBefore) || ri.WindowEnd.After(leaf.NotAfter) {
		t.Errorf("window %s - %s outside the certificate's %s - %s", ri.WindowStart, ri.WindowEnd, leaf.NotBefore, leaf.NotAfter)
	}
	// Pebble's window is around two thirds of the lifetime.
	ideal := leaf.NotAfter.Add(-leaf.NotAfter.Sub(leaf.NotBefore) / 3)
	if ri.WindowStart.After(ideal) || ri.WindowEnd.Before(ideal) {
		t.Errorf("window %s - %s does not hold %s", ri.WindowStart, ri.WindowEnd, ideal)
	}
	if d := time.Until(ri.RetryAfter); d < 5*time.Hour || d > 7*time.Hour {
		t.Errorf("RetryAfter in %s, want Pebble's 6h", d)
	}
	if at := ri.RenewAt(time.Now()); at.Before(ri.WindowStart) || !at.Before(ri.WindowEnd) {
		t.Errorf("RenewAt %s outside the window", at)
	}

	id, err := CertID(leaf)
	if err != nil {
		t.Fatal(err)
	}
	ordersBefore := e.ca.Stats().OrdersCreated
	renewed, err := iss.Obtain(testCtx(t), Request{CSR: csr, Profile: "classic", ReplacesCertID: id})
	if err != nil {
		t.Fatalf("Obtain replacing %s: %v", id, err)
	}
	checkIssued(t, e.ca, renewed, key, "www.example.org")

	// A CertID the CA never issued: refused, and asked again without.
	bogus := strings.Split(id, ".")[0] + ".AQIDBAUGBwg"
	again, err := iss.Obtain(testCtx(t), Request{CSR: csr, ReplacesCertID: bogus})
	if err != nil {
		t.Fatalf("Obtain with a foreign CertID: %v", err)
	}
	checkIssued(t, e.ca, again, key, "www.example.org")
	if got := e.ca.Stats().OrdersCreated - ordersBefore; got != 2 {
		t.Errorf("%d orders for two certificates, want 2", got)
	}
}

// noARIProxy fronts the CA with a proxy whose directory lacks renewalInfo,
// and returns the proxy's directory URL and a CA bundle trusting it.
func noARIProxy(t *testing.T, ca *pebble.CA) (dirURL, bundle string) {
	t.Helper()
	target, _ := url.Parse(ca.DirectoryURL())
	target.Path = ""
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.TLSRootPEM())
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != "/dir" {
			return nil
		}
		var dir map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&dir); err != nil {
			return err
		}
		_ = resp.Body.Close()
		delete(dir, "renewalInfo")
		b, _ := json.Marshal(dir)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	srv := httptest.NewTLSServer(proxy)
	t.Cleanup(srv.Close)
	bundle = filepath.Join(t.TempDir(), "proxy.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(bundle, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.URL + "/dir", bundle
}

func TestRenewalInfoNoARI(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	e.cfg.DirectoryURL, e.cfg.CABundle = noARIProxy(t, e.ca)
	iss := e.issuer(t)
	csr, _ := newCSR(t, "www.example.org")
	cert, err := iss.Obtain(testCtx(t), Request{CSR: csr})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.RenewalInfo(testCtx(t), cert.Leaf); !errors.Is(err, ErrNoARI) {
		t.Fatalf("RenewalInfo: %v; want ErrNoARI", err)
	}
	// Without ARI a CertID is not sent: the order still works.
	id, _ := CertID(cert.Leaf)
	if _, err := iss.Obtain(testCtx(t), Request{CSR: csr, ReplacesCertID: id}); err != nil {
		t.Fatalf("Obtain with ReplacesCertID at a CA without ARI: %v", err)
	}
}

// selfSigned makes a certificate with the given serial and AKI.
func selfSigned(t testing.TB, serial *big.Int, aki []byte) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: serial, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		AuthorityKeyId: aki, DNSNames: []string{"x.example.org"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func TestCertID(t *testing.T) {
	t.Parallel()
	aki := []byte{0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4}
	tests := []struct {
		name    string
		cert    *x509.Certificate
		want    string
		wantErr string
	}{
		// RFC 9773 section 4.1's example.
		{name: "rfc example", cert: selfSigned(t, big.NewInt(0x87654321), aki), want: "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"},
		{name: "small serial", cert: selfSigned(t, big.NewInt(1), aki), want: "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AQ"},
		{name: "no AKI", cert: selfSigned(t, big.NewInt(1), nil), wantErr: "authority key identifier"},
		{name: "nil", wantErr: "no certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CertID(tc.cert)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("CertID: %q, %v; want error %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("CertID = %q, %v; want %q", got, err, tc.want)
			}
			if lego, _ := api.MakeARICertID(tc.cert); lego != got {
				t.Errorf("lego computes %q", lego)
			}
		})
	}
}

func TestRenewAt(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		start, end time.Time
		lo, hi     time.Time
	}{
		{name: "future window", start: now.Add(time.Hour), end: now.Add(3 * time.Hour), lo: now.Add(time.Hour), hi: now.Add(3 * time.Hour)},
		{name: "past window", start: now.Add(-3 * time.Hour), end: now.Add(-time.Hour), lo: now, hi: now},
		{name: "open window", start: now.Add(-time.Hour), end: now.Add(time.Hour), lo: now, hi: now.Add(time.Hour)},
		{name: "empty window", start: now.Add(time.Hour), end: now.Add(time.Hour), lo: now.Add(time.Hour), hi: now.Add(time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ri := &RenewalInfo{WindowStart: tc.start, WindowEnd: tc.end}
			for range 100 {
				at := ri.RenewAt(now)
				if at.Before(tc.lo) || at.After(tc.hi) {
					t.Fatalf("RenewAt = %s, want within %s - %s", at, tc.lo, tc.hi)
				}
			}
		})
	}
}
