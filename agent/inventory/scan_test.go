package inventory

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/agent/internal/testca"
	"github.com/certfleet/certfleet/shared"
)

// fixture issues leaves from a test CA and writes files under a temp dir.
type fixture struct {
	t   testing.TB
	ca  *testca.CA
	dir string
}

func newFixture(t testing.TB) *fixture {
	return &fixture{t: t, ca: testca.NewTB(t), dir: t.TempDir()}
}

// leaf issues a certificate for names expiring after life, and returns
// its chain PEM (leaf, intermediate), the leaf and its key in PEM.
func (f *fixture) leaf(life time.Duration, names ...string) (string, *x509.Certificate, []byte) {
	f.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	chain, leaf, err := f.ca.Issue(testca.Leaf{Pub: key.Public(), Names: names, Lifetime: life})
	if err != nil {
		f.t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		f.t.Fatal(err)
	}
	return chain, leaf, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func (f *fixture) write(rel string, data []byte) string {
	f.t.Helper()
	p := filepath.Join(f.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) pattern(rel string) Pattern {
	f.t.Helper()
	p, err := CompilePattern(filepath.Join(f.dir, filepath.FromSlash(rel)))
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func find(r Result, sha string) *shared.UnmanagedCert {
	for i := range r.Certs {
		if r.Certs[i].SHA256 == sha {
			return &r.Certs[i]
		}
	}
	return nil
}

// TestScanMixedDir scans a directory holding everything an operator's
// certificate directory may: certificates, chains, keys, garbage, a huge
// file, a CA bundle, DER, a symlink loop, a FIFO, and the agent's own
// files. Only the unmanaged leaves come back, each once, soonest expiry
// first, and no key material.
func TestScanMixedDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks and FIFOs as on unix")
	}
	f := newFixture(t)
	webChain, web, webKey := f.leaf(30*24*time.Hour, "www.example.test", "example.test")
	f.write("certs/web.pem", []byte(webChain))
	f.write("certs/web-fullchain.pem", []byte(webChain)) // a copy: one entry, one duplicate
	f.write("certs/web-key.pem", webKey)                 // named like a key: never opened
	f.write("certs/web.key", webKey)
	mailChain, mail, mailKey := f.leaf(5*24*time.Hour, "mail.example.test")
	// HAProxy style: key and chain in one file; only the certificate is read.
	f.write("certs/haproxy/mail.pem", append(mailKey, mailChain...))
	dbChain, db, _ := f.leaf(60*24*time.Hour, "db.example.test")
	block, _ := pem.Decode([]byte(dbChain))
	f.write("certs/deep/er/db.der", block.Bytes) // DER, two levels down
	f.write("certs/ca-bundle.pem", append(testca.PEM(f.ca.Inter), testca.PEM(f.ca.Root)...))
	f.write("certs/garbage.pem", []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\nand text"))
	f.write("certs/empty.crt", nil)
	f.write("certs/huge.pem", bytes.Repeat([]byte(webChain), 2000)) // over max_file_size: skipped unread
	ownChain, own, _ := f.leaf(90*24*time.Hour, "own.example.test")
	ownPath := f.write("certs/own/cert.pem", []byte(ownChain))
	f.write("certs/copy-of-own.pem", []byte(ownChain)) // the agent's certificate elsewhere: still managed
	stateChain, state, _ := f.leaf(90*24*time.Hour, "state.example.test")
	f.write("certs/state/pending.pem", []byte(stateChain))
	if err := os.Symlink("loop-b.pem", filepath.Join(f.dir, "certs/loop-a.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop-a.pem", filepath.Join(f.dir, "certs/loop-b.pem")); err != nil {
		t.Fatal(err)
	}
	// A directory symlinked into itself: never followed.
	if err := os.Symlink(".", filepath.Join(f.dir, "certs/deep/self")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("web.pem", filepath.Join(f.dir, "certs/web-link.pem")); err != nil {
		t.Fatal(err)
	}
	if err := mkfifo(filepath.Join(f.dir, "certs/fifo.pem")); err != nil {
		t.Fatal(err)
	}

	opts := Options{
		Patterns:     []Pattern{f.pattern("certs/**"), f.pattern("certs/*.pem")}, // overlapping on purpose
		MaxFiles:     100,
		MaxFileSize:  64 << 10,
		Managed:      []string{ownPath},
		ManagedCerts: []string{ownPath},
		Private:      []string{filepath.Join(f.dir, "certs/state")},
	}
	done := make(chan Result, 1)
	go func() { done <- Scan(t.Context(), opts) }()
	var res Result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("scan hung (a FIFO or a symlink loop?)")
	}

	want := []*x509.Certificate{mail, web, db} // soonest expiry first
	if len(res.Certs) != len(want) {
		b, _ := json.MarshalIndent(res, "", " ")
		t.Fatalf("%d certificates, want %d:\n%s", len(res.Certs), len(want), b)
	}
	for i, c := range want {
		got := res.Certs[i]
		if got.SHA256 != Fingerprint(c) {
			t.Errorf("certs[%d] is %s (%s), want %s", i, got.Subject, got.Path, c.Subject)
		}
		if !got.NotAfter.Equal(c.NotAfter) || got.Issuer != c.Issuer.String() || got.Subject != c.Subject.String() {
			t.Errorf("certs[%d]: %+v", i, got)
		}
	}
	// web-fullchain.pem comes first in walk order; web-link.pem and
	// web.pem are one file, a copy of it.
	if w := find(res, Fingerprint(web)); w.Path != filepath.Join(f.dir, "certs/web-fullchain.pem") || w.Duplicates != 1 ||
		!slices.Equal(w.SANs, []string{"www.example.test", "example.test"}) {
		t.Errorf("web at %s: %d duplicates (want 1), SANs %v", w.Path, w.Duplicates, w.SANs)
	}
	if d := find(res, Fingerprint(db)); d.Path != filepath.Join(f.dir, "certs/deep/er/db.der") {
		t.Errorf("db found at %s", d.Path)
	}
	for _, c := range []*x509.Certificate{own, state, f.ca.Inter, f.ca.Root} {
		if find(res, Fingerprint(c)) != nil {
			t.Errorf("%s reported", c.Subject)
		}
	}
	wantSkips := map[string]int{
		SkipKeyFile: 2, SkipTooLarge: 1, SkipCAOnly: 1, SkipNoCertificate: 2, SkipManaged: 2,
		SkipUnreadable: 2, // the two looping symlinks
		SkipPrivateDir: 1,
		SkipNotRegular: 2, // the FIFO and the directory symlink
	}
	for k, n := range wantSkips {
		if res.Skipped[k] != n {
			t.Errorf("skipped %s: %d, want %d (all: %v)", k, res.Skipped[k], n, res.Skipped)
		}
	}
	b, _ := json.Marshal(res)
	if bytes.Contains(b, []byte("PRIVATE KEY")) || bytes.Contains(b, []byte("BEGIN")) {
		t.Fatalf("key or PEM material in the result: %s", b)
	}
}

func TestScanBounds(t *testing.T) {
	f := newFixture(t)
	for i := range 12 {
		chain, _, _ := f.leaf(time.Duration(12-i)*24*time.Hour, fmt.Sprintf("h%d.example.test", i))
		f.write(fmt.Sprintf("many/%02d.pem", i), []byte(chain))
	}
	cases := []struct {
		name string
		opts Options
		// want: certificates listed, omitted, files read, file_limit skips, truncated
		certs, omitted, read, limited int
		truncated                     bool
	}{
		{"all", Options{MaxFiles: 100, MaxFileSize: 1 << 20}, 12, 0, 12, 0, false},
		{"max files", Options{MaxFiles: 5, MaxFileSize: 1 << 20}, 5, 0, 5, 7, false},
		{"max results keeps the soonest", Options{MaxFiles: 100, MaxFileSize: 1 << 20, MaxResults: 4}, 4, 8, 12, 0, false},
		{"walk limit", Options{MaxFiles: 100, MaxFileSize: 1 << 20, MaxEntries: 3}, 3, 0, 3, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Patterns = []Pattern{f.pattern("many/**")}
			res := Scan(t.Context(), tc.opts)
			if len(res.Certs) != tc.certs || res.Omitted != tc.omitted || res.Read != tc.read ||
				res.Skipped[SkipFileLimit] != tc.limited || res.Truncated != tc.truncated {
				t.Fatalf("certs %d omitted %d read %d limited %d truncated %v", len(res.Certs), res.Omitted, res.Read,
					res.Skipped[SkipFileLimit], res.Truncated)
			}
			for i := 1; i < len(res.Certs); i++ {
				if res.Certs[i].NotAfter.Before(res.Certs[i-1].NotAfter) {
					t.Fatalf("not sorted by expiry: %v before %v", res.Certs[i-1].NotAfter, res.Certs[i].NotAfter)
				}
			}
			if tc.name == "max results keeps the soonest" && res.Certs[0].SANs[0] != "h11.example.test" {
				t.Fatalf("first listed %v, want the one expiring first", res.Certs[0].SANs)
			}
		})
	}
}

func TestScanCappedFields(t *testing.T) {
	f := newFixture(t)
	var names []string
	for i := range shared.MaxUnmanagedSANs + 5 {
		names = append(names, fmt.Sprintf("n%d.example.test", i))
	}
	chain, _, _ := f.leaf(24*time.Hour, names...)
	f.write("sans.pem", []byte(chain))
	res := Scan(t.Context(), Options{Patterns: []Pattern{f.pattern("*.pem")}, MaxFiles: 10, MaxFileSize: 1 << 20})
	if len(res.Certs) != 1 {
		t.Fatalf("%+v", res)
	}
	if c := res.Certs[0]; len(c.SANs) != shared.MaxUnmanagedSANs || c.SANsOmitted != 5 {
		t.Fatalf("%d SANs listed, %d omitted", len(c.SANs), c.SANsOmitted)
	}
}

func TestScanMissingAndLiteral(t *testing.T) {
	f := newFixture(t)
	chain, leaf, _ := f.leaf(24*time.Hour, "one.example.test")
	f.write("dir/one.pem", []byte(chain))
	f.write("dir/sub/two.pem", []byte(chain))
	cases := []struct {
		name    string
		pattern string
		want    int
	}{
		{"missing base", "nowhere/**", 0},
		{"a file", "dir/one.pem", 1},
		{"a directory: its files, not deeper", "dir", 1},
		{"one level", "dir/*/*.pem", 1},
		{"any depth", "**/two.pem", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := Scan(t.Context(), Options{Patterns: []Pattern{f.pattern(tc.pattern)}, MaxFiles: 10, MaxFileSize: 1 << 20})
			if len(res.Certs) != tc.want {
				t.Fatalf("%d found, want %d: %+v", len(res.Certs), tc.want, res)
			}
			if tc.want > 0 && res.Certs[0].SHA256 != Fingerprint(leaf) {
				t.Fatalf("found %+v", res.Certs[0])
			}
		})
	}
}

func TestScanStopsOnCancel(t *testing.T) {
	f := newFixture(t)
	chain, _, _ := f.leaf(24*time.Hour, "one.example.test")
	f.write("a/one.pem", []byte(chain))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res := Scan(ctx, Options{Patterns: []Pattern{f.pattern("a/**")}, MaxFiles: 10, MaxFileSize: 1 << 20})
	if res.Read != 0 {
		t.Fatalf("read %d files after cancel", res.Read)
	}
}

func TestKeyFileName(t *testing.T) {
	cases := []struct {
		name string
		key  bool
	}{
		{"key.pem", true}, {"web-key.pem", true}, {"server_key.pem", true}, {"tls.key", true}, {"tls.key.pem", true},
		{"privkey1.pem", true}, {"private.pem", true}, {"store.pfx", true}, {"id.P12", true}, {"KEY.PEM", true},
		{"cert.pem", false}, {"fullchain.pem", false}, {"keycloak.pem", false}, {"monkey.pem", false}, {"web.crt", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := keyFileName("/x/" + tc.name); got != tc.key {
				t.Fatalf("keyFileName(%q) = %v", tc.name, got)
			}
		})
	}
}

func TestPatterns(t *testing.T) {
	cases := []struct {
		name, pattern, file string
		match               bool
	}{
		{"star", "/etc/ssl/*.pem", "/etc/ssl/a.pem", true},
		{"star not deeper", "/etc/ssl/*.pem", "/etc/ssl/x/a.pem", false},
		{"double star last", "/etc/nginx/**", "/etc/nginx/a/b/c.crt", true},
		{"double star direct", "/etc/nginx/**", "/etc/nginx/c.crt", true},
		{"double star middle, zero deep", "/srv/**/tls/*.pem", "/srv/tls/a.pem", true},
		{"double star middle, deep", "/srv/**/tls/*.pem", "/srv/a/b/tls/a.pem", true},
		{"double star middle, wrong tail", "/srv/**/tls/*.pem", "/srv/a/b/tls/x/a.pem", false},
		{"class", "/etc/[ab]/*.pem", "/etc/b/x.pem", true},
		{"question", "/etc/?/*.pem", "/etc/ab/x.pem", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if runtime.GOOS == "windows" {
				t.Skip("unix paths")
			}
			p, err := CompilePattern(tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			rel, err := filepath.Rel(p.Base, tc.file)
			if err != nil || strings.HasPrefix(rel, "..") {
				if tc.match {
					t.Fatalf("%s is not under base %s", tc.file, p.Base)
				}
				return
			}
			if got := p.match(strings.Split(filepath.ToSlash(rel), "/")); got != tc.match {
				t.Fatalf("match = %v", got)
			}
		})
	}
	for _, bad := range []string{"", "etc/*.pem", "/etc/a**b", "/etc/[x", "/a/**/b/**/c/**/d/**"} {
		if _, err := CompilePattern(bad); err == nil {
			t.Errorf("CompilePattern(%q) accepted", bad)
		}
	}
}

// FuzzLeafOf: whatever a file holds, reading it neither panics nor
// returns a CA certificate as a leaf.
func FuzzLeafOf(f *testing.F) {
	fx := newFixture(f)
	chain, _, key := fx.leaf(time.Hour, "fuzz.example.test")
	f.Add([]byte(chain))
	f.Add(append(key, chain...))
	f.Add(testca.PEM(fx.ca.Root))
	f.Add([]byte{0x30, 0x82, 0x01})
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		leaf, reason := leafOf(data)
		if (leaf == nil) == (reason == "") {
			t.Fatalf("leaf %v with reason %q", leaf != nil, reason)
		}
		if leaf != nil && isCACert(leaf) {
			t.Fatal("a CA certificate returned as the leaf")
		}
		if leaf != nil {
			u := describe("/x", leaf)
			if len(u.Subject) > shared.MaxDNLen || len(u.Issuer) > shared.MaxDNLen || len(u.SANs) > shared.MaxUnmanagedSANs {
				t.Fatalf("unbounded description: %+v", u)
			}
		}
	})
}
