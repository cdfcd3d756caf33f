package natsauth_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certfleet/certfleet/hub/natsauth"
)

var tlsFiles = []string{"ca.pem", "ca-key.pem", "server.pem", "server-key.pem"}

func initTLS(tb testing.TB, hosts ...string) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "tls")
	if err := natsauth.InitTLS(dir, hosts); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// verifyServer checks the served certificate chains to the CA for host.
func verifyServer(tb testing.TB, dir, host string) error {
	tb.Helper()
	cfg, caPEM, err := natsauth.LoadTLS(dir)
	if err != nil {
		tb.Fatal(err)
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		tb.Errorf("MinVersion %x", cfg.MinVersion)
	}
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		tb.Fatal("CA PEM does not parse")
	}
	_, err = leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

func TestInitTLS(t *testing.T) {
	dir := initTLS(t, "nats.example.org", "127.0.0.1", "::1")
	checkModes(t, dir, tlsFiles)
	for _, host := range []string{"nats.example.org", "127.0.0.1", "::1"} {
		t.Run("valid for "+host, func(t *testing.T) {
			if err := verifyServer(t, dir, host); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("not valid for other names", func(t *testing.T) {
		if err := verifyServer(t, dir, "other.example.org"); err == nil {
			t.Fatal("certificate valid for a name it was not made for")
		}
	})
	t.Run("CA is a CA", func(t *testing.T) {
		block, _ := pem.Decode(mustRead(t, filepath.Join(dir, "ca.pem")))
		ca, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if !ca.IsCA || !ca.MaxPathLenZero || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
			t.Fatalf("CA constraints: IsCA %v MaxPathLenZero %v usage %v", ca.IsCA, ca.MaxPathLenZero, ca.KeyUsage)
		}
		if _, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok {
			t.Fatalf("CA key %T, want ECDSA", ca.PublicKey)
		}
	})
}

func TestInitTLSIdempotent(t *testing.T) {
	dir := initTLS(t, "localhost", "127.0.0.1")
	before := snapshot(t, dir)
	// Same hosts in another order and case: nothing changes.
	if err := natsauth.InitTLS(dir, []string{"127.0.0.1", "LOCALHOST"}); err != nil {
		t.Fatal(err)
	}
	if !sameFiles(before, snapshot(t, dir)) {
		t.Fatal("second InitTLS changed files")
	}
}

func TestInitTLSReissues(t *testing.T) {
	cases := []struct {
		name   string
		hosts  []string
		damage func(t *testing.T, dir string)
	}{
		{"hosts changed", []string{"localhost", "nats.example.org"}, nil},
		{"server key replaced", []string{"localhost"}, func(t *testing.T, dir string) {
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			der, _ := x509.MarshalPKCS8PrivateKey(key)
			if err := os.WriteFile(filepath.Join(dir, "server-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"server certificate garbled", []string{"localhost"}, func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "server.pem"), []byte("garbage"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"server certificate missing", []string{"localhost"}, func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "server.pem")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := initTLS(t, "localhost")
			before := snapshot(t, dir)
			if tc.damage != nil {
				tc.damage(t, dir)
			}
			if err := natsauth.InitTLS(dir, tc.hosts); err != nil {
				t.Fatal(err)
			}
			after := snapshot(t, dir)
			if !bytes.Equal(before["ca.pem"], after["ca.pem"]) || !bytes.Equal(before["ca-key.pem"], after["ca-key.pem"]) {
				t.Fatal("CA replaced; agents pin it, it must stay")
			}
			if bytes.Equal(before["server.pem"], after["server.pem"]) {
				t.Fatal("server certificate not re-issued")
			}
			for _, h := range tc.hosts {
				if err := verifyServer(t, dir, h); err != nil {
					t.Fatalf("%s: %v", h, err)
				}
			}
			checkModes(t, dir, tlsFiles)
		})
	}
}

func TestInitTLSErrors(t *testing.T) {
	cases := []struct {
		name  string
		hosts []string
		prep  func(t *testing.T, dir string)
		want  string
	}{
		{"no hosts", nil, nil, "none"},
		{"empty host", []string{""}, nil, "tls host"},
		{"host with a space", []string{"a b"}, nil, "tls host"},
		{"URL instead of host", []string{"tls://x.org"}, nil, "tls host"},
		{"leading hyphen", []string{"-x.org"}, nil, "tls host"},
		{"CA key without CA certificate", []string{"localhost"}, func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "ca.pem")); err != nil {
				t.Fatal(err)
			}
		}, "ca-key.pem"},
		{"CA certificate without key", []string{"localhost"}, func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "ca-key.pem")); err != nil {
				t.Fatal(err)
			}
		}, "ca-key.pem"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := initTLS(t, "localhost")
			if tc.prep != nil {
				tc.prep(t, dir)
			}
			err := natsauth.InitTLS(dir, tc.hosts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("InitTLS = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadTLSErrors(t *testing.T) {
	if _, _, err := natsauth.LoadTLS(t.TempDir()); err == nil {
		t.Fatal("LoadTLS of an empty directory succeeded")
	}
	dir := initTLS(t, "localhost")
	if err := os.WriteFile(filepath.Join(dir, "server-key.pem"), mustRead(t, filepath.Join(dir, "ca-key.pem")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := natsauth.LoadTLS(dir); err == nil {
		t.Fatal("LoadTLS with a key that does not match succeeded")
	}
}
