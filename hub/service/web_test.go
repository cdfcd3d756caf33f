package service

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

// writeTLSPair writes a self-signed certificate for 127.0.0.1 and returns
// the file paths and a pool trusting it.
func writeTLSPair(tb testing.TB) (certFile, keyFile string, pool *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "dashboard test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	certFile, keyFile = filepath.Join(dir, "web.pem"), filepath.Join(dir, "web-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		tb.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(leaf)
	return certFile, keyFile, pool
}

func TestUserAddRefuses(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	cases := []struct {
		name string
		req  admin.UserAddRequest
		want string
	}{
		{"bad name", admin.UserAddRequest{Name: "Alice Smith", Role: "admin", Password: "long enough password"}, "user name"},
		{"bad role", admin.UserAddRequest{Name: "alice", Role: "root", Password: "long enough password"}, "--role"},
		{"short password", admin.UserAddRequest{Name: "alice", Role: "admin", Password: "short"}, "password"},
		{"password over bcrypt's 72 bytes", admin.UserAddRequest{Name: "alice", Role: "admin", Password: strings.Repeat("x", 73)}, "password"},
		{"email with a display name", admin.UserAddRequest{Name: "alice", Role: "admin", Password: "long enough password", Email: "Alice <alice@example.org>"}, "--email"},
		{"not an email", admin.UserAddRequest{Name: "alice", Role: "admin", Password: "long enough password", Email: "alice"}, "--email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := json.Marshal(tc.req)
			_, err := th.adminUserAdd(ctx, b)
			if shared.CodeOf(err) != shared.CodeBadRequest || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want bad_request naming %q", err, tc.want)
			}
		})
	}
	if _, err := th.store.GetUser(ctx, "alice"); err == nil {
		t.Fatal("a refused user was stored")
	}
}

// TestDashboardHTTPS serves the dashboard from certificate files and checks
// that its cookies are Secure and HSTS is sent.
func TestDashboardHTTPS(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	certFile, keyFile, pool := writeTLSPair(t)
	th.cfg.Web.Listen, th.cfg.Web.TLSCert, th.cfg.Web.TLSKey = "127.0.0.1:0", certFile, keyFile
	b, _ := json.Marshal(admin.UserAddRequest{Name: "alice", Role: "admin", Password: "correct horse battery"})
	if _, err := th.adminUserAdd(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := th.startWeb(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(th.stopWeb)
	if !strings.HasPrefix(th.webURL, "https://127.0.0.1:") {
		t.Fatalf("web URL %q", th.webURL)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(th.webURL + "login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS header over HTTPS")
	}
	for _, ck := range resp.Cookies() {
		if !ck.Secure || !ck.HttpOnly {
			t.Errorf("cookie %s: Secure %v HttpOnly %v", ck.Name, ck.Secure, ck.HttpOnly)
		}
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the login page:\n%s", body)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = c.PostForm(th.webURL+"login", url.Values{"name": {"alice"}, "password": {"correct horse battery"}, "csrf": {string(m[1])}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "certfleet_session" {
			session = ck
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil || !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
		t.Fatalf("login: status %d, session cookie %+v", resp.StatusCode, session)
	}
	// Plain HTTP to the HTTPS port gets no page.
	plain := strings.Replace(th.webURL, "https://", "http://", 1)
	if resp, err := http.Get(plain + "login"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "csrf") {
			t.Fatal("dashboard served over plain HTTP on the HTTPS port")
		}
	}
}

// TestUserEmail: a user's --email is unique, kept lower case, and finds
// the user for a client certificate.
func TestUserEmail(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	add := func(name, email string) error {
		b, _ := json.Marshal(admin.UserAddRequest{Name: name, Role: "readonly", Password: "long enough password", Email: email})
		_, err := th.adminUserAdd(ctx, b)
		return err
	}
	if err := add("alice", "Alice@Example.org"); err != nil {
		t.Fatal(err)
	}
	if err := add("alice", "alice@example.org"); err != nil {
		t.Fatalf("re-adding a user with its own e-mail: %v", err)
	}
	if err := add("bob", "ALICE@example.org"); shared.CodeOf(err) != shared.CodeBadRequest || !strings.Contains(err.Error(), "user alice has it") {
		t.Fatalf("a second user with alice's e-mail: %v", err)
	}
	u, err := webBackend{th.Hub}.UserByEmail(ctx, "alice@example.org")
	if err != nil || u.Name != "alice" || u.Email != "alice@example.org" {
		t.Fatalf("UserByEmail: %+v, %v", u, err)
	}
	if _, err := (webBackend{th.Hub}).UserByEmail(ctx, "nobody@example.org"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UserByEmail(unknown): %v", err)
	}
}
