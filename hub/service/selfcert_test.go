package service

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// shortLived makes a chain and key PEM for name valid for life, as a CA
// would issue it.
func shortLived(name string, life time.Duration) (chainPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: now, NotAfter: now.Add(life)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// servedSerial handshakes with addr and returns the serial it was shown.
func servedSerial(t *testing.T, addr, name string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
	if err != nil {
		return ""
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
}

// TestSelfCertRenewsAndHotSwaps: a self-obtained certificate is renewed
// when a third of its lifetime is left, retried after a failure, written
// to its files, and served from the next handshake on, without a restart;
// a restarted hub serves the kept one at once.
func TestSelfCertRenewsAndHotSwaps(t *testing.T) {
	const name = "dash.acme.example.test"
	dir := t.TempDir()
	logs := &syncBuffer{}
	var calls atomic.Int32
	sc := &selfCert{log: slog.New(slog.NewTextHandler(logs, nil)), what: "dashboard", name: name,
		certPath: filepath.Join(dir, "web.pem"), keyPath: filepath.Join(dir, "web.key"), retryMin: 20 * time.Millisecond, retryMax: 100 * time.Millisecond,
		issue: func(ctx context.Context) ([]byte, []byte, error) {
			if calls.Add(1) == 2 {
				return nil, nil, errors.New("the CA is down")
			}
			return shortLived(name, 1500*time.Millisecond)
		}}
	sc.start(t.Context())
	t.Cleanup(sc.stop)

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: sc.get})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	addr := ln.Addr().String()
	var first string
	eventually(t, 10*time.Second, "a certificate served", func() bool { first = servedSerial(t, addr, name); return first != "" })
	var second string
	eventually(t, 10*time.Second, "the renewed certificate served", func() bool {
		second = servedSerial(t, addr, name)
		return second != "" && second != first
	})
	if n := calls.Load(); n < 3 {
		t.Fatalf("%d issue calls: want the first, the failed renewal and its retry", n)
	}
	if !strings.Contains(logs.String(), "dashboard certificate: obtain failed; retrying") {
		t.Errorf("failed renewal not logged:\n%s", logs.String())
	}
	pair, err := tls.LoadX509KeyPair(sc.certPath, sc.keyPath)
	if err != nil {
		t.Fatalf("kept files: %v", err)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(sc.keyPath); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("key file mode %v (%v)", fi.Mode(), err)
		}
	}

	// A restart: the kept certificate is served before any issue call.
	sc.stop()
	again := &selfCert{log: sc.log, what: "dashboard", name: name, certPath: sc.certPath, keyPath: sc.keyPath,
		retryMin: time.Hour, retryMax: time.Hour,
		issue: func(context.Context) ([]byte, []byte, error) { return nil, nil, errors.New("not now") }}
	again.start(t.Context())
	defer again.stop()
	got, err := again.get(&tls.ClientHelloInfo{ServerName: name, Conn: &net.TCPConn{}})
	if err != nil || got.Leaf.SerialNumber.Cmp(pair.Leaf.SerialNumber) != 0 {
		t.Fatalf("after restart: %v, serial %v want %v", err, got, pair.Leaf.SerialNumber)
	}
}
