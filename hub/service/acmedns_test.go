package service

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writePair(t *testing.T, certFile, keyFile, cn string, mod time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
}

func leafCN(t *testing.T, fc *fileCert) string {
	t.Helper()
	c, err := fc.get(nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return l.Subject.CommonName
}

// TestFileCertReload: tls = "files" picks up a renewed pair without a
// restart, and keeps serving the previous one while a renewal is half
// written.
func TestFileCertReload(t *testing.T) {
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "api.pem"), filepath.Join(dir, "api.key")
	if _, err := newFileCert(cf, kf, "acmedns.tls_cert/tls_key"); err == nil {
		t.Fatal("missing files accepted")
	}
	t0 := time.Now().Add(-time.Minute)
	writePair(t, cf, kf, "old.example.test", t0)
	fc, err := newFileCert(cf, kf, "acmedns.tls_cert/tls_key")
	if err != nil {
		t.Fatal(err)
	}
	if cn := leafCN(t, fc); cn != "old.example.test" {
		t.Fatalf("serving %s", cn)
	}
	writePair(t, cf, kf, "new.example.test", t0.Add(30*time.Second))
	if cn := leafCN(t, fc); cn != "new.example.test" {
		t.Fatalf("renewed pair not picked up: serving %s", cn)
	}
	if err := os.WriteFile(cf, []byte("half written"), 0o644); err != nil {
		t.Fatal(err)
	}
	if cn := leafCN(t, fc); cn != "new.example.test" {
		t.Fatalf("half-written renewal: serving %s", cn)
	}
}
