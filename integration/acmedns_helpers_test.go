package integration

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/dns01"
	"github.com/go-acme/lego/v5/lego"
	legoacmedns "github.com/go-acme/lego/v5/providers/dns/acmedns"
	"github.com/go-acme/lego/v5/registration"
	"github.com/miekg/dns"
	"golang.org/x/crypto/bcrypt"
	_ "modernc.org/sqlite"

	"github.com/certfleet/certfleet/integration/fleet"
)

// acmednsPlain enables the acme-dns API over plain HTTP on loopback.
const acmednsPlain = `
[acmedns]
enabled = true
listen = "127.0.0.1:0"
tls = "off"
`

// legoUser is an ACME account for the in-process lego client.
type legoUser struct {
	key crypto.Signer
	reg *acme.ExtendedAccount
}

func (u *legoUser) GetEmail() string                       { return "" }
func (u *legoUser) GetRegistration() *acme.ExtendedAccount { return u.reg }
func (u *legoUser) GetPrivateKey() crypto.Signer           { return u.key }

// legoObtain drives lego's own acme-dns DNS provider (the library, as
// Traefik, Caddy's and others embed it) against Pebble: lego registers at
// the hub's acme-dns API when storage has no account for the name, and
// updates the TXT records through it.
func legoObtain(t *testing.T, env *fleet.Env, apiBase, storagePath string, domains ...string) (*certificate.Resource, error) {
	t.Helper()
	c := ctx(t)
	// lego's DNS client is process-wide: point it at the stand-in public
	// resolver for this call.
	prev := dns01.DefaultClient()
	dns01.SetDefaultClient(dns01.NewClient(&dns01.Options{RecursiveNameservers: []string{env.Resolver.Addr()}, Timeout: 5 * time.Second}))
	defer dns01.SetDefaultClient(prev)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u := &legoUser{key: key}
	cfg := lego.NewConfig(u)
	cfg.CADirURL = env.Pebble.DirectoryURL()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(env.Pebble.TLSRootPEM())
	cfg.HTTPClient = &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	client, err := lego.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if u.reg, err = client.Registration.Register(c, registration.RegisterOptions{TermsOfServiceAgreed: true}); err != nil {
		t.Fatal(err)
	}
	p, err := legoacmedns.NewDNSProviderConfig(&legoacmedns.Config{APIBase: apiBase, StoragePath: storagePath})
	if err != nil {
		t.Fatal(err)
	}
	// The resolver is the only "public" DNS here; lego's check of the
	// authoritative servers would query port 53.
	if err := client.Challenge.SetDNS01Provider(p, dns01.DisableAuthoritativeNssPropagationRequirement()); err != nil {
		t.Fatal(err)
	}
	return client.Certificate.Obtain(c, certificate.ObtainRequest{Domains: domains, Bundle: true, KeyType: certcrypto.EC256})
}

// checkLegoCert verifies the issued chain to Pebble's root and its names.
func checkLegoCert(t *testing.T, env *fleet.Env, res *certificate.Resource, names ...string) {
	t.Helper()
	var certs []*x509.Certificate
	rest := res.Certificate
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(certs) < 2 {
		t.Fatalf("want leaf and intermediate, got %d certificates", len(certs))
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AppendCertsFromPEM(env.Pebble.RootsPEM())
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	for _, n := range names {
		if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: strings.Replace(n, "*", "x", 1)}); err != nil {
			t.Fatalf("certificate for %s: %v", n, err)
		}
	}
}

// hubTXT asks the hub's DNS (TCP) for name's TXT values.
func hubTXT(t *testing.T, env *fleet.Env, name string) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	r, _, err := (&dns.Client{Net: "tcp", Timeout: 5 * time.Second}).Exchange(m, env.HubRun().DNSTCP)
	if err != nil {
		t.Fatalf("query %s: %v", name, err)
	}
	var out []string
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(txt.Txt, ""))
		}
	}
	return out
}

// legacyAccount is a registration made by acme-dns before the move.
type legacyAccount struct {
	user, key, sub string
	allow          []string
}

// writeACMEDNSSQLite writes an acme-dns SQLite database with acme-dns's
// schema and statements (db.go: Init, Register, Update).
func writeACMEDNSSQLite(t *testing.T, path string, accts []legacyAccount, txt string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts := []string{`
	CREATE TABLE IF NOT EXISTS acmedns(
		Name TEXT,
		Value TEXT
	);`, `
	CREATE TABLE IF NOT EXISTS records(
        Username TEXT UNIQUE NOT NULL PRIMARY KEY,
        Password TEXT UNIQUE NOT NULL,
        Subdomain TEXT UNIQUE NOT NULL,
		AllowFrom TEXT
    );`, `
    CREATE TABLE IF NOT EXISTS txt(
		Subdomain TEXT NOT NULL,
		Value   TEXT NOT NULL DEFAULT '',
		LastUpdate INT
	);`, "INSERT INTO acmedns (Name, Value) values('db_version', '1')"}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range accts {
		hash, err := bcrypt.GenerateFromPassword([]byte(a.key), 10)
		if err != nil {
			t.Fatal(err)
		}
		allow, _ := json.Marshal(a.allow)
		if _, err := db.Exec("INSERT INTO records(Username, Password, Subdomain, AllowFrom) values(?, ?, ?, ?)", a.user, hash, a.sub, string(allow)); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := db.Exec("INSERT INTO txt (Subdomain, LastUpdate) values('" + a.sub + "', 0)"); err != nil {
				t.Fatal(err)
			}
		}
		if txt != "" {
			if _, err := db.Exec("UPDATE txt SET Value=?, LastUpdate=? WHERE rowid=(SELECT rowid FROM txt WHERE Subdomain=? ORDER BY LastUpdate LIMIT 1)", txt, time.Now().Unix(), a.sub); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func apiBase(t *testing.T, env *fleet.Env) string {
	t.Helper()
	u := env.HubRun().ACMEDNS
	if u == "" {
		t.Fatal("the hub's run file names no acme-dns API")
	}
	return u
}
