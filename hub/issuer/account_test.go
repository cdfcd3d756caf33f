package issuer

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/integration/pebble"
)

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestAccountReusedAcrossRestarts(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	first := e.issuer(t)
	if first.AccountURI() == "" {
		t.Fatal("no account URI")
	}
	keyPath := filepath.Join(e.cfg.AccountDir, accountKeyFile)
	regPath := filepath.Join(e.cfg.AccountDir, accountRegFile)
	for path, want := range map[string]os.FileMode{e.cfg.AccountDir: 0o700, keyPath: 0o600, regPath: 0o600} {
		if got := fileMode(t, path); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
	keyBefore, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	// Someone loosened the key's mode; the restart tightens it.
	if err := os.Chmod(keyPath, 0o644); err != nil {
		t.Fatal(err)
	}

	second := e.issuer(t)
	if second.AccountURI() != first.AccountURI() {
		t.Fatalf("second New uses account %s, first %s", second.AccountURI(), first.AccountURI())
	}
	if s := e.ca.Stats(); s.AccountsCreated != 1 {
		t.Fatalf("CA created %d accounts, want 1", s.AccountsCreated)
	}
	if got := fileMode(t, keyPath); got != 0o600 {
		t.Errorf("key mode after restart %v, want 0600", got)
	}
	keyAfter, _ := os.ReadFile(keyPath)
	if string(keyAfter) != string(keyBefore) {
		t.Error("account key was replaced")
	}
	// The reused account can order.
	csr, key := newCSR(t, "www.example.org")
	cert, err := second.Obtain(testCtx(t), Request{CSR: csr})
	if err != nil {
		t.Fatal(err)
	}
	checkIssued(t, e.ca, cert, key, "www.example.org")
}

// rewriteRegistration edits the stored account.json.
func rewriteRegistration(t *testing.T, dir string, edit func(*accountRecord)) {
	t.Helper()
	reg, err := loadRegistration(dir)
	if err != nil || reg == nil {
		t.Fatalf("load registration: %v", err)
	}
	edit(reg)
	if err := saveRegistration(dir, reg); err != nil {
		t.Fatal(err)
	}
}

func TestAccountUnknownToCA(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	uri := e.issuer(t).AccountURI()
	rewriteRegistration(t, e.cfg.AccountDir, func(r *accountRecord) {
		r.URI = uri[:strings.LastIndex(uri, "/")+1] + "999999"
	})
	// The CA does not know the stored URI; the key is registered again,
	// which finds the key's existing account.
	i := e.issuer(t)
	if i.AccountURI() != uri {
		t.Fatalf("account %s, want the key's account %s", i.AccountURI(), uri)
	}
	reg, _ := loadRegistration(e.cfg.AccountDir)
	if reg.URI != uri {
		t.Errorf("stored URI %s, want %s", reg.URI, uri)
	}
}

func TestAccountOtherDirectory(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	uri := e.issuer(t).AccountURI()
	rewriteRegistration(t, e.cfg.AccountDir, func(r *accountRecord) {
		r.Directory = "https://acme.invalid/directory"
		r.URI = "https://acme.invalid/acct/1"
	})
	i := e.issuer(t)
	if i.AccountURI() != uri {
		t.Fatalf("account %s, want %s", i.AccountURI(), uri)
	}
	reg, _ := loadRegistration(e.cfg.AccountDir)
	if reg.Directory != e.cfg.DirectoryURL {
		t.Errorf("stored directory %s, want %s", reg.Directory, e.cfg.DirectoryURL)
	}
}

func TestAccountEAB(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{EAB: true})
	kid, hmac := e.ca.EAB()
	if kid == "" || hmac == "" {
		t.Fatal("the CA made no EAB key")
	}
	tests := []struct {
		name      string
		kid, hmac string
		wantErr   string
	}{
		{name: "missing", wantErr: "external account binding"},
		{name: "wrong key", kid: kid, hmac: "c2VjcmV0LWJ1dC13cm9uZy1zZWNyZXQtYnV0LXdyb25n", wantErr: "register ACME account"},
		{name: "unknown kid", kid: "nobody", hmac: hmac, wantErr: "register ACME account"},
		{name: "good", kid: kid, hmac: hmac},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e.cfg
			cfg.AccountDir = filepath.Join(t.TempDir(), "acct")
			cfg.EABKeyID, cfg.EABHMAC = tc.kid, tc.hmac
			i, err := New(testCtx(t), cfg, e.solver)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New: %v; want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if i.AccountURI() == "" {
				t.Fatal("no account")
			}
		})
	}
	if s := e.ca.Stats(); s.AccountsCreated != 1 {
		t.Errorf("CA created %d accounts, want 1", s.AccountsCreated)
	}

	// Once registered, the account is reused without EAB credentials.
	first, err := New(testCtx(t), e.cfg, e.solver)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.EABKeyID, cfg.EABHMAC = "", ""
	again, err := New(testCtx(t), cfg, e.solver)
	if err != nil {
		t.Fatalf("New without EAB on a registered account: %v", err)
	}
	if again.AccountURI() != first.AccountURI() {
		t.Errorf("account %s, want %s", again.AccountURI(), first.AccountURI())
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String() + "/dir"
	_ = ln.Close()

	tests := []struct {
		name    string
		edit    func(*Config)
		nilSolv bool
		want    string
		is      error
	}{
		{name: "invalid config", edit: func(c *Config) { c.DirectoryURL = "http://insecure.example/dir" }, want: "want an https:// URL"},
		{name: "nil solver", nilSolv: true, want: "solver is nil"},
		{name: "CA down", edit: func(c *Config) { c.DirectoryURL = closed }, is: ErrCAUnreachable, want: "connection refused"},
		{name: "CA not trusted", edit: func(c *Config) { c.CABundle = "" }, is: ErrCAUnreachable, want: "certificate"},
		{name: "bundle missing", edit: func(c *Config) { c.CABundle = filepath.Join(t.TempDir(), "none.pem") }, want: "read ca_bundle"},
		{name: "account dir is a file", edit: func(c *Config) {
			p := filepath.Join(t.TempDir(), "file")
			_ = os.WriteFile(p, nil, 0o600)
			c.AccountDir = p
		}, want: "create account directory"},
		{name: "corrupt key", edit: func(c *Config) {
			c.AccountDir = t.TempDir()
			_ = os.WriteFile(filepath.Join(c.AccountDir, accountKeyFile), []byte("not a key"), 0o600)
		}, want: "parse account key"},
		{name: "corrupt registration", edit: func(c *Config) {
			c.AccountDir = t.TempDir()
			_ = os.WriteFile(filepath.Join(c.AccountDir, accountRegFile), []byte("{"), 0o600)
		}, want: "parse account.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e.cfg
			cfg.AccountDir = filepath.Join(t.TempDir(), "acct")
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			var s Solver = e.solver
			if tc.nilSolv {
				s = nil
			}
			_, err := New(testCtx(t), cfg, s)
			if err == nil {
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

func TestRegistrationFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if reg, err := loadRegistration(dir); reg != nil || err != nil {
		t.Fatalf("empty dir: %v, %v", reg, err)
	}
	want := &accountRecord{Directory: "https://ca.example/dir", URI: "https://ca.example/acct/7",
		Email: "a@example.org", Created: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)}
	if err := saveRegistration(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := loadRegistration(dir)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *want {
		t.Fatalf("round trip: %+v, want %+v", got, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// registrationCases seed the parser test and fuzz target.
var registrationCases = []struct {
	name string
	data string
	ok   bool
}{
	{name: "valid", data: `{"directory":"https://ca/dir","uri":"https://ca/acct/1","created":"2026-11-29T10:00:00Z"}`, ok: true},
	{name: "extra fields", data: `{"directory":"d","uri":"u","future":true}`, ok: true},
	{name: "no uri", data: `{"directory":"https://ca/dir"}`},
	{name: "no directory", data: `{"uri":"https://ca/acct/1"}`},
	{name: "bad time", data: `{"directory":"d","uri":"u","created":"yesterday"}`},
	{name: "not json", data: `directory = "x"`},
	{name: "array", data: `[]`},
	{name: "empty", data: ``},
}

func TestParseRegistration(t *testing.T) {
	t.Parallel()
	for _, tc := range registrationCases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseRegistration([]byte(tc.data))
			if tc.ok != (err == nil) {
				t.Fatalf("parseRegistration: %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && (r.Directory == "" || r.URI == "") {
				t.Fatalf("parsed %+v", r)
			}
		})
	}
}

func FuzzParseRegistration(f *testing.F) {
	for _, tc := range registrationCases {
		f.Add([]byte(tc.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseRegistration(data)
		if err != nil {
			return
		}
		if r.Directory == "" || r.URI == "" {
			t.Fatalf("accepted a registration without directory or uri: %+v", r)
		}
		// What parses must survive a save/load round trip.
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseRegistration(b)
		if err != nil || again.Directory != r.Directory || again.URI != r.URI ||
			again.Email != r.Email || !again.Created.Equal(r.Created) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, r)
		}
	})
}
