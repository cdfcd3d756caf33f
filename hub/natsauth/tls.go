package natsauth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/certfleet/certfleet/hub/datadir"
)

// Files InitTLS writes into its directory (package datadir names them).
const (
	CAFile        = datadir.CAFile
	caKeyFile     = datadir.CAKeyFile
	ServerFile    = datadir.ServerCertFile
	ServerKeyFile = datadir.ServerKeyFile
)

const (
	caLifetime     = 10 * 366 * 24 * time.Hour
	serverLifetime = 2 * 366 * 24 * time.Hour
)

// InitTLS creates a private CA (ECDSA P-256, ten years) and a server
// certificate for the NATS client port valid for hosts (DNS names or IP
// addresses) in dir: ca.pem, ca-key.pem, server.pem and server-key.pem, the
// keys 0600 in a 0700 directory. Agents pin ca.pem (it goes into their
// enrollment bundle).
//
// InitTLS is idempotent: it keeps the CA for good, and keeps the server
// certificate while it matches its key, chains to the CA, names exactly
// hosts, and has more than a third of its two-year lifetime left; otherwise
// it issues a new one with a new key. Call it at every start.
func InitTLS(dir string, hosts []string) error {
	if err := initTLS(dir, hosts); err != nil {
		return fmt.Errorf("init nats tls in %s: %w", dir, err)
	}
	return nil
}

func initTLS(dir string, hosts []string) error {
	dns, ips, err := splitHosts(hosts)
	if err != nil {
		return err
	}
	if err := ensureDir(dir); err != nil {
		return err
	}
	ca, caKey, err := ensureCA(dir)
	if err != nil {
		return err
	}
	keep, err := serverCertOK(dir, ca, dns, ips)
	if err != nil || keep {
		return err
	}
	return issueServerCert(dir, ca, caKey, dns, ips)
}

// LoadTLS returns the server TLS configuration for the NATS client port and
// the CA certificate (PEM) that clients pin.
func LoadTLS(dir string) (*tls.Config, []byte, error) {
	certPEM, err := readFile(filepath.Join(dir, ServerFile))
	if err != nil {
		return nil, nil, fmt.Errorf("load nats tls: %w", err)
	}
	keyPEM, err := readFile(filepath.Join(dir, ServerKeyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("load nats tls: %w", err)
	}
	defer wipe(keyPEM)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("load nats tls: %s: %w", dir, err)
	}
	caPEM, err := readFile(filepath.Join(dir, CAFile))
	if err != nil {
		return nil, nil, fmt.Errorf("load nats tls: %w", err)
	}
	if _, err := parseCertPEM(caPEM); err != nil {
		return nil, nil, fmt.Errorf("load nats tls: %s: %w", CAFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, caPEM, nil
}

// splitHosts sorts hosts into DNS names and IP addresses.
func splitHosts(hosts []string) ([]string, []net.IP, error) {
	var dns []string
	var ips []net.IP
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
		if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
			ips = append(ips, ip)
			continue
		}
		if !validHostname(h) {
			return nil, nil, fmt.Errorf("tls host %q: not a DNS name or IP address", h)
		}
		dns = append(dns, h)
	}
	if len(dns)+len(ips) == 0 {
		return nil, nil, errors.New("tls hosts: none given")
	}
	return dns, ips, nil
}

func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for i, l := range strings.Split(h, ".") {
		if l == "*" && i == 0 {
			continue
		}
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// ensureCA loads the CA, or creates it when neither file exists.
func ensureCA(dir string) (*x509.Certificate, crypto.Signer, error) {
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, caKeyFile)
	haveCert, err := exists(certPath)
	if err != nil {
		return nil, nil, err
	}
	if !haveCert {
		if err := createCA(certPath, keyPath); err != nil {
			return nil, nil, err
		}
	}
	certPEM, err := readFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", certPath, err)
	}
	key, err := readKey(keyPath)
	if err != nil {
		return nil, nil, err
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, nil, fmt.Errorf("%s does not belong to %s", keyPath, certPath)
	}
	return cert, key, nil
}

func createCA(certPath, keyPath string) error {
	if ok, err := exists(keyPath); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%s exists without %s; restore the certificate or remove both to make a new CA (agents must then be re-enrolled)", keyPath, certPath)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate ca key: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	defer wipe(keyPEM)
	if _, err := createFile(keyPath, keyPEM); err != nil {
		return err
	}
	now := time.Now()
	serial, err := randomSerial()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "certfleet NATS CA " + serial.Text(16)[:8], Organization: []string{"certfleet"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("create ca certificate: %w", err)
	}
	_, err = createFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return err
}

// serverCertOK reports whether the server certificate on disk can stay.
func serverCertOK(dir string, ca *x509.Certificate, dns []string, ips []net.IP) (bool, error) {
	certPEM, err := readFile(filepath.Join(dir, ServerFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return false, nil
	}
	key, err := readKey(filepath.Join(dir, ServerKeyFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) || cert.CheckSignatureFrom(ca) != nil {
		return false, nil
	}
	if time.Until(cert.NotAfter) < cert.NotAfter.Sub(cert.NotBefore)/3 {
		return false, nil
	}
	return sameStrings(cert.DNSNames, dns) && sameIPs(cert.IPAddresses, ips), nil
}

func issueServerCert(dir string, ca *x509.Certificate, caKey crypto.Signer, dns []string, ips []net.IP) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate server key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return err
	}
	cn := ""
	if len(dns) > 0 {
		cn = dns[0]
	} else {
		cn = ips[0].String()
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"certfleet"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(serverLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	if tmpl.NotAfter.After(ca.NotAfter) {
		tmpl.NotAfter = ca.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return fmt.Errorf("create server certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	defer wipe(keyPEM)
	// Key first: a crash between the two writes leaves a mismatch that the
	// next run detects and repairs.
	if err := replaceFile(filepath.Join(dir, ServerKeyFile), keyPEM); err != nil {
		return err
	}
	return replaceFile(filepath.Join(dir, ServerFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func readKey(path string) (crypto.Signer, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	defer wipe(b)
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("parse %s: no PRIVATE KEY block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("parse %s: %T is not a signing key", path, k)
	}
	return s, nil
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no CERTIFICATE block")
	}
	return x509.ParseCertificate(block.Bytes)
}

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

func sameStrings(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func sameIPs(a, b []net.IP) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range b {
		if !slices.ContainsFunc(a, func(y net.IP) bool { return bytes.Equal(x.To16(), y.To16()) }) {
			return false
		}
	}
	return true
}
