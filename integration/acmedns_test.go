package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	legoacmedns "github.com/go-acme/lego/v5/providers/dns/acmedns"
	"github.com/nrdcg/goacmedns"
	"github.com/nrdcg/goacmedns/storage"

	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/integration/fleet"
)

// TestACMEDNSLego: lego's acme-dns provider, unchanged, gets a
// certificate for a name and its wildcard in one order through the hub:
// the first run registers and asks for the CNAME (as against acme-dns),
// the second, with the CNAME in place, obtains the certificate.
func TestACMEDNSLego(t *testing.T) {
	env := newEnv(t, acmednsPlain)
	api := apiBase(t, env)
	store := filepath.Join(t.TempDir(), "lego-acmedns.json")
	names := []string{"legacy.example.test", "*.legacy.example.test"}

	// First run for the name alone: lego would otherwise update the new
	// account for the wildcard and wait its full propagation timeout for
	// a CNAME that does not exist yet.
	_, err := legoObtain(t, env, api, store, names[0])
	var need legoacmedns.ErrCNAMERequired
	if !errors.As(err, &need) {
		t.Fatalf("first run: want lego's CNAME-required error, got %v", err)
	}
	if !strings.HasSuffix(need.Target, "."+fleet.HubZone) {
		t.Fatalf("CNAME target %q is not in the hub zone", need.Target)
	}
	if err := env.Resolver.AddRecord(need.FQDN + " 300 IN CNAME " + need.Target + "."); err != nil {
		t.Fatal(err)
	}
	res, err := legoObtain(t, env, api, store, names...)
	if err != nil {
		t.Fatalf("obtain through the hub's acme-dns API: %v", err)
	}
	checkLegoCert(t, env, res, names...)
	// Both challenge values of the order were served at once (two kept).
	if got := hubTXT(t, env, need.Target); len(got) != 2 {
		t.Fatalf("%s serves %d values, want the order's 2", need.Target, len(got))
	}
	out, err := env.Hub(ctx(t), "acmedns", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list admin.ACMEDNSList
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Registrations) != 1 || list.Registrations[0].Source != "api" ||
		list.Registrations[0].Fulldomain != need.Target || list.Registrations[0].LastUpdate.IsZero() {
		t.Fatalf("acmedns list: %v %s", err, out)
	}
}

// TestACMEDNSImport: a registration made by acme-dns (SQLite, its own
// schema and statements) is imported; the client keeps its stored
// credentials and updates through the hub, and lego gets a certificate
// with that account. goacmedns (the client library of lego and
// cert-manager) registers, stores and updates as against acme-dns.
func TestACMEDNSImport(t *testing.T) {
	env := newEnv(t, acmednsPlain)
	api := apiBase(t, env)
	c := ctx(t)
	old := legacyAccount{user: "5f0c9a7e-1a2b-4c3d-8e9f-0a1b2c3d4e5f", key: strings.Repeat("Z", 38) + "-_", sub: "0d6c1e2f-3a4b-4c5d-9e6f-7a8b9c0d1e2f", allow: []string{"127.0.0.0/8"}}
	oldTXT := strings.Repeat("o", 43)
	db := filepath.Join(t.TempDir(), "acme-dns.db")
	writeACMEDNSSQLite(t, db, []legacyAccount{old}, oldTXT)

	out, err := env.Hub(c, "acmedns", "import", "--sqlite", db)
	if err != nil || !strings.Contains(out, "imported 1, skipped 0") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	oldFull := old.sub + "." + fleet.HubZone
	if got := hubTXT(t, env, oldFull); !slices.Equal(got, []string{oldTXT}) {
		t.Fatalf("imported value not served: %v", got)
	}
	if out, err := env.Hub(c, "acmedns", "import", "--sqlite", db); err != nil || !strings.Contains(out, "imported 0, skipped 1") {
		t.Fatalf("re-import: %v\n%s", err, out)
	}
	if out, err := env.Hub(c, "audit"); err != nil || strings.Count(out, "acmedns_registered") != 1 || !strings.Contains(out, old.user+" imported from acme-dns") {
		t.Fatalf("audit after import: %v\n%s", err, out)
	}

	client, err := goacmedns.NewClient(api)
	if err != nil {
		t.Fatal(err)
	}
	acct := goacmedns.Account{FullDomain: oldFull, SubDomain: old.sub, Username: old.user, Password: old.key, ServerURL: api}
	newTXT := strings.Repeat("n", 43)
	if err := client.UpdateTXTRecord(c, acct, newTXT); err != nil {
		t.Fatalf("update with credentials made by acme-dns: %v", err)
	}
	if got := hubTXT(t, env, oldFull); !slices.Equal(sorted(got), sorted([]string{oldTXT, newTXT})) {
		t.Fatalf("after update: %v", got)
	}
	bad := acct
	bad.Password = strings.Repeat("x", 40)
	if err := client.UpdateTXTRecord(c, bad, newTXT); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("wrong key: %v", err)
	}

	// lego with the imported account, stored as lego stores accounts.
	st := filepath.Join(t.TempDir(), "lego-acmedns.json")
	fs := storage.NewFile(st, 0o600)
	if err := fs.Put(c, "old.example.test", acct); err != nil {
		t.Fatal(err)
	}
	if err := fs.Save(c); err != nil {
		t.Fatal(err)
	}
	if err := env.Resolver.AddRecord("_acme-challenge.old.example.test. 300 IN CNAME " + oldFull + "."); err != nil {
		t.Fatal(err)
	}
	res, err := legoObtain(t, env, api, st, "old.example.test", "*.old.example.test")
	if err != nil {
		t.Fatalf("obtain with an imported account: %v", err)
	}
	checkLegoCert(t, env, res, "old.example.test", "*.old.example.test")

	// goacmedns registers and stores a new account, then updates.
	reg, err := client.RegisterAccount(c, []string{"127.0.0.1/32"})
	if err != nil {
		t.Fatal(err)
	}
	if reg.Username == "" || len(reg.Password) != 40 || reg.FullDomain != reg.SubDomain+"."+fleet.HubZone {
		t.Fatalf("registered %+v", reg)
	}
	fs2 := storage.NewFile(filepath.Join(t.TempDir(), "accounts.json"), 0o600)
	if err := fs2.Put(c, "new.example.test", reg); err != nil {
		t.Fatal(err)
	}
	if err := fs2.Save(c); err != nil {
		t.Fatal(err)
	}
	got, err := fs2.Fetch(c, "new.example.test")
	if err != nil {
		t.Fatal(err)
	}
	vals := []string{strings.Repeat("1", 43), strings.Repeat("2", 43), strings.Repeat("3", 43)}
	for _, v := range vals {
		if err := client.UpdateTXTRecord(c, got, v); err != nil {
			t.Fatal(err)
		}
	}
	if got := hubTXT(t, env, reg.FullDomain); !slices.Equal(sorted(got), vals[1:]) {
		t.Fatalf("want the two latest values, got %v", got)
	}

	// The admin removes the registration: the name is no longer answered.
	if _, err := env.Hub(c, "acmedns", "remove", reg.SubDomain); err != nil {
		t.Fatal(err)
	}
	if got := hubTXT(t, env, reg.FullDomain); len(got) != 0 {
		t.Fatalf("removed registration still served: %v", got)
	}
	if err := client.UpdateTXTRecord(c, got, vals[0]); err == nil {
		t.Fatal("update of a removed registration accepted")
	}
}

// TestACMEDNSSelfTLS: with tls = "self" the hub obtains the API's
// certificate through its own DNS, and clients reach the API over HTTPS.
func TestACMEDNSSelfTLS(t *testing.T) {
	const apiName = "api." + fleet.HubZone
	env := newEnv(t, `
[acmedns]
enabled = true
listen = "127.0.0.1:0"
tls = "self"
api_name = "`+apiName+`"
disable_registration = true
`)
	api := apiBase(t, env)
	if !strings.HasPrefix(api, "https://") {
		t.Fatalf("api url %s", api)
	}
	addr := strings.TrimPrefix(api, "https://")
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(env.Pebble.RootsPEM())
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: apiName},
		DialContext: func(ctx2 context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx2, network, addr)
		},
	}}
	base := "https://" + apiName + ":" + addr[strings.LastIndex(addr, ":")+1:]
	if err := fleet.Await(ctx(t), 90*time.Second, func() (bool, error) {
		res, err := hc.Get(base + "/health")
		if err != nil {
			return false, nil
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK, nil
	}); err != nil {
		t.Fatalf("the API never served a certificate for %s verifying to the CA: %v", apiName, err)
	}
	client, err := goacmedns.NewClient(base, goacmedns.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.RegisterAccount(ctx(t), nil); err == nil || !strings.Contains(err.Error(), "registration_disabled") {
		t.Fatalf("register with disable_registration: %v", err)
	}
	out, err := env.Hub(ctx(t), "acmedns", "register", "--allow-from", "127.0.0.1/32", "--name", "app.example.test", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var acct goacmedns.Account
	if err := json.Unmarshal([]byte(out), &acct); err != nil {
		t.Fatalf("register --json is not an acme-dns account: %v\n%s", err, out)
	}
	// The name recorded on the registration is checked through the
	// resolvers: missing CNAME first, then in place.
	if out, err := env.Hub(ctx(t), "acmedns", "check"); err == nil || !strings.Contains(out, "FAIL  app.example.test") {
		t.Fatalf("check without the CNAME: %v\n%s", err, out)
	}
	if err := env.Resolver.AddRecord("_acme-challenge.app.example.test. 300 IN CNAME " + acct.FullDomain + "."); err != nil {
		t.Fatal(err)
	}
	if out, err := env.Hub(ctx(t), "acmedns", "check", acct.SubDomain); err != nil || !strings.Contains(out, "ok    app.example.test") {
		t.Fatalf("check with the CNAME: %v\n%s", err, out)
	}
	v := strings.Repeat("s", 43)
	if err := client.UpdateTXTRecord(ctx(t), acct, v); err != nil {
		t.Fatalf("update over HTTPS: %v", err)
	}
	if got := hubTXT(t, env, acct.FullDomain); !slices.Equal(got, []string{v}) {
		t.Fatalf("served %v", got)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
