package migrate

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/acmedns"
)

var fixtures = []fixture{
	{user: "1b6d2ba4-4c5d-4a0b-9a1e-6a0f0a3f2b11", key: strings.Repeat("k", 39) + "1", sub: "7a3c1f1e-8d44-4f3b-9b0e-2b8c1d5e6f70",
		allow: []string{"127.0.0.1/32", "[::1]/128"}, txt: []string{strings.Repeat("a", 43), strings.Repeat("b", 43), strings.Repeat("c", 43)}},
	{user: "2c7e3cb5-5d6e-4b1c-8b2f-7b1f1b4f3c22", key: strings.Repeat("q", 39) + "2", sub: "8b4d2f2f-9e55-4a4c-8c1f-3c9d2e6f7a81"},
}

func checkRead(t *testing.T, read func(context.Context) ([]acmednsReg, error)) {
	t.Helper()
	regs, err := read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) != len(fixtures) {
		t.Fatalf("read %d registrations, want %d", len(regs), len(fixtures))
	}
	for i, f := range fixtures {
		r, warn, err := acmedns.CheckImported(regs[i], time.Now())
		if err != nil {
			t.Fatalf("%s: %v", f.user, err)
		}
		if warn != "" {
			t.Errorf("%s: unexpected warning %s", f.user, warn)
		}
		if r.Username != f.user || r.Subdomain != f.sub {
			t.Fatalf("read %+v, want %s/%s", r, f.user, f.sub)
		}
		// The hash came over untouched: the client's key still verifies.
		if err := bcrypt.CompareHashAndPassword([]byte(r.PasswordHash), []byte(f.key)); err != nil {
			t.Fatalf("%s: stored key no longer verifies: %v", f.user, err)
		}
		wantAllow := map[int][]string{0: {"127.0.0.1/32", "::1/128"}}[i]
		if strings.Join(r.AllowFrom, " ") != strings.Join(wantAllow, " ") {
			t.Fatalf("%s: allowfrom %v, want %v", f.user, r.AllowFrom, wantAllow)
		}
		var got []string
		for _, x := range r.TXT {
			got = append(got, x.Value)
		}
		// acme-dns serves the two rows it has: after three updates, the
		// second and third values.
		want := []string(nil)
		if len(f.txt) == 3 {
			want = f.txt[1:]
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("%s: txt %v, want %v", f.user, got, want)
		}
	}
}

type acmednsReg = hub.ACMEDNSRegistration

func TestReadSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acme-dns.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	writeACMEDNS(t, db, false, fixtures)
	db.Close()
	checkRead(t, func(ctx context.Context) ([]acmednsReg, error) { return ReadSQLite(ctx, path) })
}

func TestReadSQLiteErrors(t *testing.T) {
	if _, err := ReadSQLite(context.Background(), filepath.Join(t.TempDir(), "missing.db")); err == nil {
		t.Fatal("missing file read without error")
	}
	path := filepath.Join(t.TempDir(), "empty.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE other(x INT)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := ReadSQLite(context.Background(), path); err == nil || !strings.Contains(err.Error(), "records") {
		t.Fatalf("a database without acme-dns tables: %v", err)
	}
}

func TestReadPostgres(t *testing.T) {
	dsn := startPostgres(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	writeACMEDNS(t, db, true, fixtures)
	db.Close()
	checkRead(t, func(ctx context.Context) ([]acmednsReg, error) { return ReadPostgres(ctx, dsn) })
}
