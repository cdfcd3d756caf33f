package migrate

import (
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// acme-dns's schema, statement for statement as its db.go creates it
// (DBVersion 1; txtTablePG is the PostgreSQL variant).
const (
	acmeTable = `
	CREATE TABLE IF NOT EXISTS acmedns(
		Name TEXT,
		Value TEXT
	);`
	userTable = `
	CREATE TABLE IF NOT EXISTS records(
        Username TEXT UNIQUE NOT NULL PRIMARY KEY,
        Password TEXT UNIQUE NOT NULL,
        Subdomain TEXT UNIQUE NOT NULL,
		AllowFrom TEXT
    );`
	txtTable = `
    CREATE TABLE IF NOT EXISTS txt(
		Subdomain TEXT NOT NULL,
		Value   TEXT NOT NULL DEFAULT '',
		LastUpdate INT
	);`
	txtTablePG = `
    CREATE TABLE IF NOT EXISTS txt(
		rowid SERIAL,
		Subdomain TEXT NOT NULL,
		Value   TEXT NOT NULL DEFAULT '',
		LastUpdate INT
	);`
)

// fixture is one registration written the way acme-dns writes it.
type fixture struct {
	user, key, sub string
	allow          []string
	txt            []string // values set through acme-dns's Update, in order
}

// writeACMEDNS creates acme-dns's tables in db and stores fixtures with
// acme-dns's own statements: Register (hash bound as []byte, AllowFrom as
// JSON, two empty txt rows) and Update (overwrite the oldest row).
func writeACMEDNS(tb testing.TB, db *sql.DB, postgres bool, fixtures []fixture) {
	tb.Helper()
	ph := func(s string) string { return s }
	if !postgres {
		ph = func(s string) string { // getSQLiteStmt
			out := []byte(s)
			for i := 0; i+1 < len(out); i++ {
				if out[i] == '$' && out[i+1] >= '0' && out[i+1] <= '9' {
					out[i] = '?'
					out = append(out[:i+1], out[i+2:]...)
				}
			}
			return string(out)
		}
	}
	txtDDL := txtTable
	if postgres {
		txtDDL = txtTablePG
	}
	for _, q := range []string{acmeTable, userTable, txtDDL, "INSERT INTO acmedns (Name, Value) values('db_version', '1')"} {
		if _, err := db.Exec(q); err != nil {
			tb.Fatalf("acme-dns schema: %v", err)
		}
	}
	for i, f := range fixtures {
		hash, err := bcrypt.GenerateFromPassword([]byte(f.key), 10)
		if err != nil {
			tb.Fatal(err)
		}
		allow, _ := json.Marshal(f.allow)
		if f.allow == nil {
			allow = []byte("[]")
		}
		if _, err := db.Exec(ph(`
    INSERT INTO records(
        Username,
        Password,
        Subdomain,
		AllowFrom) 
        values($1, $2, $3, $4)`), f.user, hash, f.sub, string(allow)); err != nil {
			tb.Fatalf("register %s: %v", f.user, err)
		}
		for range 2 {
			if _, err := db.Exec("INSERT INTO txt (Subdomain, LastUpdate) values('" + f.sub + "', 0)"); err != nil {
				tb.Fatal(err)
			}
		}
		for j, v := range f.txt {
			ts := time.Date(2026, 1, 1, 0, i, j, 0, time.UTC).Unix()
			if _, err := db.Exec(ph(`
	UPDATE txt SET Value=$1, LastUpdate=$2
	WHERE rowid=(
		SELECT rowid FROM txt WHERE Subdomain=$3 ORDER BY LastUpdate LIMIT 1)
	`), v, ts, f.sub); err != nil {
				tb.Fatalf("update %s: %v", f.sub, err)
			}
		}
	}
}
