// Package migrate reads an acme-dns database (SQLite or PostgreSQL) into
// registrations for the hub's store: the `records` table (Username,
// Password, Subdomain, AllowFrom) and the `txt` table (Subdomain, Value,
// LastUpdate), as acme-dns creates them. Password holds bcrypt hashes,
// which are carried over untouched.
package migrate

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "modernc.org/sqlite"             // driver "sqlite"

	"github.com/certfleet/certfleet/hub"
)

// ReadSQLite reads the acme-dns SQLite database at path, read-only.
func ReadSQLite(ctx context.Context, path string) ([]hub.ACMEDNSRegistration, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("read acme-dns sqlite database: %w", err)
	}
	u := url.URL{Scheme: "file", Opaque: path, RawQuery: "mode=ro"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("open acme-dns sqlite database %s: %w", path, err)
	}
	defer db.Close()
	regs, err := read(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("read acme-dns sqlite database %s: %w", path, err)
	}
	return regs, nil
}

// ReadPostgres reads the acme-dns PostgreSQL database at dsn (a URL or
// key=value string, as acme-dns's own connection setting).
func ReadPostgres(ctx context.Context, dsn string) ([]hub.ACMEDNSRegistration, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open acme-dns postgres database: %w", err)
	}
	defer db.Close()
	regs, err := read(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("read acme-dns postgres database: %w", err)
	}
	return regs, nil
}

func read(ctx context.Context, db *sql.DB) ([]hub.ACMEDNSRegistration, error) {
	rows, err := db.QueryContext(ctx, `SELECT Username, Password, Subdomain, AllowFrom FROM records`)
	if err != nil {
		return nil, fmt.Errorf("query records: %w", err)
	}
	defer rows.Close()
	var regs []hub.ACMEDNSRegistration
	bySub := map[string]int{}
	for rows.Next() {
		var user, sub string
		// acme-dns binds the hash as []byte: a BLOB in SQLite, text in
		// PostgreSQL. Scanning into []byte reads both.
		var pass []byte
		var allow sql.NullString
		if err := rows.Scan(&user, &pass, &sub, &allow); err != nil {
			return nil, fmt.Errorf("scan records: %w", err)
		}
		r := hub.ACMEDNSRegistration{Username: user, PasswordHash: string(pass), Subdomain: sub}
		if allow.Valid && allow.String != "" {
			if err := json.Unmarshal([]byte(allow.String), &r.AllowFrom); err != nil {
				return nil, fmt.Errorf("records: AllowFrom of %s: %w", user, err)
			}
		}
		bySub[sub] = len(regs)
		regs = append(regs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read records: %w", err)
	}
	txt, err := db.QueryContext(ctx, `SELECT Subdomain, Value, LastUpdate FROM txt`)
	if err != nil {
		return nil, fmt.Errorf("query txt: %w", err)
	}
	defer txt.Close()
	for txt.Next() {
		var sub, val string
		var last sql.NullInt64
		if err := txt.Scan(&sub, &val, &last); err != nil {
			return nil, fmt.Errorf("scan txt: %w", err)
		}
		i, ok := bySub[sub]
		if !ok || val == "" {
			continue
		}
		regs[i].TXT = append(regs[i].TXT, hub.ACMEDNSTXT{Value: val, Updated: time.Unix(last.Int64, 0).UTC()})
	}
	if err := txt.Err(); err != nil {
		return nil, fmt.Errorf("read txt: %w", err)
	}
	return regs, nil
}
