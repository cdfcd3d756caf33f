package web

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/store"
)

// testCA is a CA for client (and server) certificates in tests.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newTestCA(tb testing.TB, cn string) *testCA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key}
}

// issue makes a leaf: a client certificate for cn and emails, or with
// server set one for 127.0.0.1.
func (ca *testCA) issue(tb testing.TB, cn string, emails []string, server bool) tls.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, EmailAddresses: emails,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// usersBackend is fleetBackend with a user list.
type usersBackend struct {
	fleetBackend
	mu    sync.Mutex
	users map[string]hub.User
}

func (b *usersBackend) User(_ context.Context, name string) (hub.User, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if u, ok := b.users[name]; ok {
		return u, nil
	}
	return hub.User{}, store.ErrNotFound
}

func (b *usersBackend) UserByEmail(_ context.Context, email string) (hub.User, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var found []hub.User
	for _, u := range b.users {
		if u.Email == email {
			found = append(found, u)
		}
	}
	switch len(found) {
	case 0:
		return hub.User{}, store.ErrNotFound
	case 1:
		return found[0], nil
	}
	return hub.User{}, errors.New("several users have this e-mail")
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// TestClientCertificateLogin serves the dashboard over TLS asking for
// client certificates of one CA, and logs in with them.
func TestClientCertificateLogin(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse battery"), bcrypt.MinCost)
	be := &usersBackend{fleetBackend: fleetBackend{bigFleet(1)}, users: map[string]hub.User{
		"alice":  {Name: "alice", Role: hub.RoleAdmin, Hash: string(hash)},
		"victor": {Name: "victor", Role: hub.RoleReadOnly, Hash: string(hash), Email: "victor@example.org"},
		"dup1":   {Name: "dup1", Role: hub.RoleAdmin, Email: "dup@example.org"},
		"dup2":   {Name: "dup2", Role: hub.RoleAdmin, Email: "dup@example.org"},
	}}
	logs := &lockedBuffer{}
	s, err := New(Options{Backend: be, Log: slog.New(slog.NewTextHandler(logs, nil)), SilentAfter: time.Hour, Secure: true, ClientCerts: true})
	if err != nil {
		t.Fatal(err)
	}
	clientCA, otherCA, serverCA := newTestCA(t, "client ca"), newTestCA(t, "other ca"), newTestCA(t, "server ca")
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)
	ts := httptest.NewUnstartedServer(s)
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{serverCA.issue(t, "127.0.0.1", nil, true)},
		ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven}
	ts.StartTLS()
	defer ts.Close()
	roots := x509.NewCertPool()
	roots.AddCert(serverCA.cert)

	type client struct {
		*http.Client
	}
	newClient := func(cert *tls.Certificate) client {
		jar, _ := cookiejar.New(nil)
		cfg := &tls.Config{RootCAs: roots}
		if cert != nil {
			// Sent whatever CAs the server names, as a misconfigured
			// client would (Go's own sends only a matching one).
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
		}
		return client{&http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}}
	}
	get := func(c client, path string) (int, string, error) {
		resp, err := c.Get(ts.URL + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	passwordLogin := func(t *testing.T, c client) string {
		t.Helper()
		_, body, err := get(c, "/login?out")
		if err != nil {
			t.Fatal(err)
		}
		m := csrfRe.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no login form:\n%s", body)
		}
		resp, err := c.PostForm(ts.URL+"/login", url.Values{"name": {"alice"}, "password": {"correct horse battery"}, "csrf": {m[1]}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	cases := []struct {
		name string
		cert *tls.Certificate
		// want: "" refused at the handshake, else who the page shows
		// logged in ("" for the login form) and the status code.
		handshake bool
		who       string
		code      int
		message   string
	}{
		{"CN names a user", ptr(clientCA.issue(t, "alice", nil, false)), true, "alice (admin)", http.StatusOK, ""},
		{"SAN e-mail names a user", ptr(clientCA.issue(t, "Victor Viewer", []string{"Victor@Example.org"}, false)), true, "victor (read-only)", http.StatusOK, ""},
		{"unknown CN", ptr(clientCA.issue(t, "bob", []string{"bob@example.org"}, false)), true, "", http.StatusForbidden, "CN=bob) is not a dashboard user"},
		{"e-mail of two users", ptr(clientCA.issue(t, "x y", []string{"dup@example.org"}, false)), true, "", http.StatusOK, ""},
		{"no certificate", nil, true, "", http.StatusOK, ""},
		{"another CA", ptr(otherCA.issue(t, "alice", nil, false)), false, "", 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(tc.cert)
			code, body, err := get(c, "/")
			if !tc.handshake {
				if err == nil {
					t.Fatalf("a certificate of another CA was accepted: %d", code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Fatalf("GET /: %d, want %d\n%s", code, tc.code, body)
			}
			if tc.who != "" {
				if !strings.Contains(body, `<span class="who">`+tc.who+`</span>`) || !strings.Contains(body, `id="states"`) {
					t.Fatalf("not logged in as %s:\n%s", tc.who, body)
				}
				return
			}
			if !strings.Contains(body, `id="password"`) || strings.Contains(body, `class="who"`) {
				t.Fatalf("want the password form, not logged in:\n%s", body)
			}
			if tc.message != "" && !strings.Contains(body, tc.message) {
				t.Fatalf("refusal does not say %q:\n%s", tc.message, body)
			}
			// The password form works whatever the certificate.
			if page := passwordLogin(t, c); !strings.Contains(page, `<span class="who">alice (admin)</span>`) {
				t.Fatalf("password login after %s failed:\n%s", tc.name, page)
			}
		})
	}
	if !strings.Contains(logs.String(), "web login by client certificate refused") || !strings.Contains(logs.String(), `subject="CN=bob"`) {
		t.Errorf("refusal not logged:\n%s", logs.String())
	}

	t.Run("read-only by certificate cannot act", func(t *testing.T) {
		c := newClient(ptr(clientCA.issue(t, "victor", nil, false)))
		_, body, err := get(c, "/")
		if err != nil {
			t.Fatal(err)
		}
		m := csrfRe.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no CSRF token:\n%s", body)
		}
		resp, err := c.PostForm(ts.URL+"/domains", url.Values{"csrf": {m[1]}, "name": {"www.example.org"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("POST as read-only: %d, want 403", resp.StatusCode)
		}
	})
	t.Run("no login by certificate on POST", func(t *testing.T) {
		c := newClient(ptr(clientCA.issue(t, "alice", nil, false)))
		resp, err := c.PostForm(ts.URL+"/domains", url.Values{"name": {"www.example.org"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("POST without a session: %d, want 401", resp.StatusCode)
		}
	})
	t.Run("role from the user record, read on every request", func(t *testing.T) {
		c := newClient(ptr(clientCA.issue(t, "alice", nil, false)))
		if _, body, _ := get(c, "/"); !strings.Contains(body, "alice (admin)") {
			t.Fatalf("not admin:\n%s", body)
		}
		be.mu.Lock()
		u := be.users["alice"]
		u.Role = hub.RoleReadOnly
		be.users["alice"] = u
		be.mu.Unlock()
		if _, body, _ := get(c, "/"); !strings.Contains(body, "alice (read-only)") {
			t.Fatalf("role change not applied:\n%s", body)
		}
	})
	t.Run("logout stays logged out", func(t *testing.T) {
		c := newClient(ptr(clientCA.issue(t, "victor", nil, false)))
		_, body, _ := get(c, "/")
		m := csrfRe.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no CSRF token:\n%s", body)
		}
		resp, err := c.PostForm(ts.URL+"/logout", url.Values{"csrf": {m[1]}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `id="password"`) || strings.Contains(string(b), `class="who"`) {
			t.Fatalf("after logout:\n%s", b)
		}
	})
}

func ptr[T any](v T) *T { return &v }
