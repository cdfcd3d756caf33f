package inventory

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/certfleet/certfleet/shared"
)

// Skip reasons, counted per scan.
const (
	SkipKeyFile       = "key_file"       // named like a private key: never opened
	SkipManaged       = "managed"        // one of the agent's own files or certificates
	SkipNotRegular    = "not_regular"    // a directory, device, FIFO or socket
	SkipTooLarge      = "too_large"      // over max_file_size: not read
	SkipUnreadable    = "unreadable"     // permission, dangling or looping symlink, I/O error
	SkipNoCertificate = "no_certificate" // no PEM or DER certificate in it
	SkipCAOnly        = "ca_only"        // only CA certificates (a bundle or a root)
	SkipFileLimit     = "file_limit"     // max_files already read this scan
	SkipPrivateDir    = "private_dir"    // under the agent's state dir
)

// keyExts are file extensions that hold private keys (or keystores that
// do): such files are never opened.
var keyExts = map[string]bool{".key": true, ".p12": true, ".pfx": true, ".jks": true, ".keystore": true, ".p8": true, ".pk8": true, ".kdb": true}

// keyNameRe matches names like key.pem, web-key.pem, server_key.pem,
// tls.key.pem, privkey.pem and private.pem.
var keyNameRe = regexp.MustCompile(`(^|[-_.])key([-_.]|$)|privkey|private`)

// keyFileName reports whether a file's name says it holds a private key.
// Files that mix a key and certificates under another name are read, but
// only their CERTIFICATE blocks are ever parsed.
func keyFileName(p string) bool {
	base := strings.ToLower(filepath.Base(p))
	return keyExts[filepath.Ext(base)] || keyNameRe.MatchString(base)
}

// leafOf returns the certificate a file is about: the first certificate
// in it that is not a CA's. PEM "CERTIFICATE" blocks are read and every
// other block (private keys above all) is skipped undecoded; a file with
// no PEM block is tried as one DER certificate. reason is set when there
// is none.
func leafOf(data []byte) (leaf *x509.Certificate, reason string) {
	var certs []*x509.Certificate
	sawPEM := false
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		sawPEM = true
		if b.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			certs = append(certs, c)
		}
	}
	if !sawPEM && len(data) > 0 && data[0] == 0x30 {
		// A copy: the certificate keeps its DER, and the caller zeroes
		// what it read.
		if c, err := x509.ParseCertificate(bytes.Clone(data)); err == nil {
			certs = append(certs, c)
		}
	}
	if len(certs) == 0 {
		return nil, SkipNoCertificate
	}
	for _, c := range certs {
		if !isCACert(c) {
			return c, ""
		}
	}
	return nil, SkipCAOnly
}

// isCACert reports whether c is a CA's certificate (a root or an
// intermediate) rather than a service's: a CA that may sign certificates
// and names no host. A self-signed service certificate made with
// `openssl req -x509` is marked CA but usually lacks keyCertSign or names
// its host, so it still counts as a leaf.
func isCACert(c *x509.Certificate) bool {
	return c.IsCA && c.KeyUsage&x509.KeyUsageCertSign != 0 && len(c.DNSNames) == 0 && len(c.IPAddresses) == 0
}

// Fingerprint is the hex SHA-256 of a certificate's DER.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// describe turns a leaf found at path into what the hub is told, every
// field within the protocol's bounds.
func describe(path string, c *x509.Certificate) shared.UnmanagedCert {
	u := shared.UnmanagedCert{
		Path:      cut(path, shared.MaxPathLen),
		Subject:   cut(c.Subject.String(), shared.MaxDNLen),
		Issuer:    cut(c.Issuer.String(), shared.MaxDNLen),
		Serial:    cut(c.SerialNumber.Text(16), shared.MaxSerialLen),
		NotBefore: c.NotBefore.UTC(),
		NotAfter:  c.NotAfter.UTC(),
		SHA256:    Fingerprint(c),
	}
	sans := make([]string, 0, len(c.DNSNames)+len(c.IPAddresses))
	sans = append(sans, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		sans = append(sans, ip.String())
	}
	if len(sans) > shared.MaxUnmanagedSANs {
		u.SANsOmitted = len(sans) - shared.MaxUnmanagedSANs
		sans = sans[:shared.MaxUnmanagedSANs]
	}
	for i, s := range sans {
		sans[i] = cut(s, 253)
	}
	if len(sans) > 0 {
		u.SANs = sans
	}
	return u
}

// cut shortens s to at most n bytes on a rune boundary, with invalid
// UTF-8 replaced (certificate fields are whatever their maker wrote).
func cut(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
