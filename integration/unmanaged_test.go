package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/integration/fleet"
	"github.com/certfleet/certfleet/shared"
)

// selfSigned writes a self-signed certificate for name, expiring after
// life, to certFile and its key to keyFile, as an operator's openssl
// would, and returns the certificate.
func selfSigned(t *testing.T, name string, life time.Duration, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(life), BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// TestUnmanagedInventory: the real agent, whose [inventory] lists a
// directory holding a self-signed certificate and its key next to its
// own certificate directory, reports the self-signed one as unmanaged
// (and not its own, nor the key); `certfleet-hub status --json` shows it
// with its expiry, the text view lists it with --unmanaged, and as it
// expires within two weeks the status raises unmanaged_expiring.
func TestUnmanagedInventory(t *testing.T) {
	env := newEnv(t, "")
	c := ctx(t)
	if _, err := env.AddDomain(c, "www.example.test"); err != nil {
		t.Fatal(err)
	}
	a, err := env.NewAgent(c, "web1", []string{"www.example.test"}, fleet.CertSpec{Name: "web", Names: []string{"www.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	legacy := filepath.Join(a.Dir, "legacy")
	if err := os.MkdirAll(legacy, 0o755); err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(legacy, "intranet.pem")
	cert := selfSigned(t, "intranet.example.test", 5*24*time.Hour, certFile, filepath.Join(legacy, "intranet.key"))
	sum := sha256.Sum256(cert.Raw)
	fp := hex.EncodeToString(sum[:])
	a.ExtraTOML = fmt.Sprintf("[inventory]\npaths = [%q, %q]\n", filepath.Join(legacy, "**"), filepath.Join(a.CertDir("web"), "*.pem"))
	if err := a.WriteConfig(fleet.CertSpec{Name: "web", Names: []string{"www.example.test"}}); err != nil {
		t.Fatal(err)
	}
	// The operator can try the paths first.
	if out, err := a.CLI(c, "inventory"); err != nil || !strings.Contains(out, certFile) || !strings.Contains(out, "1 key_file") {
		t.Fatalf("certfleet-agent inventory: %v\n%s", err, out)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AwaitCert(c, "web", []string{"www.example.test"}, issueTimeout); err != nil {
		t.Fatal(err)
	}

	var found shared.UnmanagedCert
	var last admin.StatusReply
	if err := fleet.Await(c, 60*time.Second, func() (bool, error) {
		last = hubStatus(t, env)
		for _, s := range last.Status {
			if s.AgentID != "web1" {
				continue
			}
			for _, u := range s.Report.Unmanaged {
				if u.Path != certFile {
					return false, fmt.Errorf("unmanaged %s reported: the agent's own files are managed", u.Path)
				}
				found = u
			}
		}
		return found.Path != "", nil
	}); err != nil {
		t.Fatalf("status --json never listed %s as unmanaged: %v (last: %+v)", certFile, err, last.Status)
	}
	if found.SHA256 != fp || !found.NotAfter.Equal(cert.NotAfter) || found.Subject != "CN=intranet.example.test" ||
		len(found.SANs) != 1 || found.SANs[0] != "intranet.example.test" || last.UnmanagedCounts["web1"] != 1 {
		t.Fatalf("unmanaged entry %+v (counts %v), want fingerprint %s expiring %s", found, last.UnmanagedCounts, fp, cert.NotAfter)
	}
	alerted := false
	for _, al := range last.Alerts {
		alerted = alerted || (al.Kind == "unmanaged_expiring" && al.Agent == "web1" && strings.Contains(al.Message, certFile))
	}
	if !alerted {
		t.Fatalf("no unmanaged_expiring alert: %+v", last.Alerts)
	}
	out, err := env.Hub(c, "status")
	if err != nil || !strings.Contains(out, "1 unmanaged certificate(s) on 1 agent(s)") || !strings.Contains(out, "UNMANAGED_EXPIRING") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	out, err = env.Hub(c, "status", "--unmanaged")
	if err != nil || !strings.Contains(out, certFile) || !strings.Contains(out, cert.NotAfter.UTC().Format("2006-01-02 15:04")) {
		t.Fatalf("status --unmanaged: %v\n%s", err, out)
	}
}
