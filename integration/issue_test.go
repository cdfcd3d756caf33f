package integration

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/integration/fleet"
)

const issueTimeout = 90 * time.Second

// checkInstalled verifies what the agent wrote: checkInstalledFiles, and
// the key file is private.
func checkInstalled(t *testing.T, env *fleet.Env, a *fleet.Agent, block string) {
	t.Helper()
	dir := a.CertDir(block)
	checkInstalledFiles(t, env, dir)
	if fi, err := os.Stat(filepath.Join(dir, "key.pem")); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("key.pem mode: %v %v", fi.Mode(), err)
	}
}

// checkInstalledFiles verifies the PEM files in dir: the key matches the
// leaf, is ECDSA (the default key type), and the chain verifies to
// Pebble's root. It returns the leaf.
func checkInstalledFiles(t *testing.T, env *fleet.Env, dir string) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatalf("fullchain and key do not match: %v", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(env.Pebble.RootsPEM()) {
		t.Fatal("no pebble roots")
	}
	inter := x509.NewCertPool()
	chain, err := os.ReadFile(filepath.Join(dir, "chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	inter.AppendCertsFromPEM(chain)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
		t.Fatalf("installed chain does not verify to the CA's root: %v", err)
	}
	if _, ok := pair.PrivateKey.(*ecdsa.PrivateKey); !ok {
		t.Fatalf("default key type: got %T, want ECDSA", pair.PrivateKey)
	}
	return leaf
}

func hubStatus(t *testing.T, env *fleet.Env) admin.StatusReply {
	t.Helper()
	out, err := env.Hub(ctx(t), "status", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r admin.StatusReply
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return r
}

func TestOneName(t *testing.T) {
	env := newEnv(t, "")
	c := ctx(t)
	rec, err := env.AddDomain(c, "www.example.test")
	if err != nil {
		t.Fatal(err)
	}
	// The operator created the record: the check through the resolvers agrees.
	if out, err := env.Hub(c, "domain", "check"); err != nil || !strings.Contains(out, "ok    www.example.test: "+rec) {
		t.Fatalf("domain check: %v\n%s", err, out)
	}
	marker := filepath.Join(t.TempDir(), "reloaded")
	a, err := env.NewAgent(c, "web1", []string{"www.example.test"},
		fleet.CertSpec{Name: "web", Names: []string{"www.example.test"}, ReloadShell: "echo reloaded >> " + marker})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	leaf, err := a.AwaitCert(c, "web", []string{"www.example.test"}, issueTimeout)
	if err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, env, a, "web")
	if err := fleet.Await(c, 10*time.Second, func() (bool, error) {
		_, err := os.Stat(marker)
		return err == nil, nil
	}); err != nil {
		t.Fatal("reload command did not run")
	}
	// The hub's fleet view shows the certificate the agent reported.
	if err := fleet.Await(c, 20*time.Second, func() (bool, error) {
		r := hubStatus(t, env)
		for _, s := range r.Status {
			for _, cs := range s.Report.Certificates {
				if s.AgentID == "web1" && cs.Name == "web" && cs.NotAfter.Equal(leaf.NotAfter) {
					return true, nil
				}
			}
		}
		return false, nil
	}); err != nil {
		t.Fatalf("hub status never showed the agent's certificate: %v", err)
	}
	out, err := env.Hub(c, "status")
	if err != nil || !strings.Contains(out, "web1") || !strings.Contains(out, "www.example.test") {
		t.Fatalf("status table: %v\n%s", err, out)
	}
	if got := env.Pebble.Stats().OrdersFinalized; got != 1 {
		t.Fatalf("CA issued %d certificates, want 1", got)
	}
	if err := a.Stop(); err != nil {
		t.Fatalf("agent did not stop cleanly: %v", err)
	}
	if err := env.StopHub(); err != nil {
		t.Fatalf("hub did not stop cleanly: %v", err)
	}
}

func TestApexAndWildcard(t *testing.T) {
	env := newEnv(t, "")
	c := ctx(t)
	if _, err := env.AddDomain(c, "example.test"); err != nil {
		t.Fatal(err)
	}
	names := []string{"example.test", "*.example.test"}
	a, err := env.NewAgent(c, "edge", []string{"example.test", "=*.example.test"}, fleet.CertSpec{Name: "edge", Names: names})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AwaitCert(c, "edge", names, issueTimeout); err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, env, a, "edge")
}

func TestDelegatedZone(t *testing.T) {
	env := newEnv(t, "")
	c := ctx(t)
	if err := env.AddZone(c, "corp.example.test"); err != nil {
		t.Fatal(err)
	}
	// No per-name DNS change: the zone delegation covers every host.
	a, err := env.NewAgent(c, "db7", []string{"*.corp.example.test"},
		fleet.CertSpec{Name: "db", Names: []string{"db7.corp.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AwaitCert(c, "db", []string{"db7.corp.example.test"}, issueTimeout); err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, env, a, "db")
}

func TestTwoAgentsAtOnce(t *testing.T) {
	env := newEnv(t, "")
	c := ctx(t)
	if err := env.AddZone(c, "corp.example.test"); err != nil {
		t.Fatal(err)
	}
	var agents []*fleet.Agent
	for _, n := range []string{"app1", "app2"} {
		a, err := env.NewAgent(c, n, []string{n + ".corp.example.test"},
			fleet.CertSpec{Name: "tls", Names: []string{n + ".corp.example.test"}, KeyType: map[string]string{"app1": "ec384", "app2": "rsa2048"}[n]})
		if err != nil {
			t.Fatal(err)
		}
		agents = append(agents, a)
	}
	for _, a := range agents {
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range agents {
		if _, err := a.AwaitCert(c, "tls", []string{a.Name + ".corp.example.test"}, issueTimeout); err != nil {
			t.Fatal(err)
		}
	}
	if got := env.Pebble.Stats().OrdersFinalized; got != 2 {
		t.Fatalf("CA issued %d certificates, want 2", got)
	}
}

// awaitRefusal waits for the hub to record a failed request for agent whose
// error contains want, and checks that the CA issued nothing.
func awaitRefusal(t *testing.T, env *fleet.Env, agent, want string) {
	t.Helper()
	c := ctx(t)
	var last string
	err := fleet.Await(c, 60*time.Second, func() (bool, error) {
		for _, q := range hubStatus(t, env).Requests {
			if q.AgentID == agent && q.State == "failed" {
				last = q.LastError
				return strings.Contains(q.LastError, want), nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no refusal containing %q recorded (last error %q): %v", want, last, err)
	}
	if st := env.Pebble.Stats(); st.OrdersCreated != 0 || st.OrdersFinalized != 0 {
		t.Fatalf("CA saw %d orders, %d issued; want none", st.OrdersCreated, st.OrdersFinalized)
	}
}

func TestNameWithoutDelegation(t *testing.T) {
	t.Run("not registered", func(t *testing.T) {
		env := newEnv(t, "")
		a, err := env.NewAgent(ctx(t), "web1", []string{"www.example.test"}, fleet.CertSpec{Name: "web", Names: []string{"www.example.test"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		awaitRefusal(t, env, "web1", "certfleet-hub domain add www.example.test")
		if _, err := a.Leaf("web"); err == nil {
			t.Fatal("a certificate was installed")
		}
	})
	t.Run("cname missing", func(t *testing.T) {
		env := newEnv(t, "")
		// Registered at the hub, but the operator never created the CNAME.
		out, err := env.Hub(ctx(t), "domain", "add", "www.example.test")
		if err != nil {
			t.Fatal(err)
		}
		record := strings.TrimSpace(out)
		a, err := env.NewAgent(ctx(t), "web1", []string{"www.example.test"}, fleet.CertSpec{Name: "web", Names: []string{"www.example.test"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		awaitRefusal(t, env, "web1", "create the record: "+record)
		check, err := env.Hub(ctx(t), "domain", "check")
		if err == nil || !strings.Contains(check, "FAIL") || !strings.Contains(check, record) {
			t.Fatalf("domain check must fail naming %q: %v\n%s", record, err, check)
		}
	})
}

func TestNameOutsideAllowList(t *testing.T) {
	env := newEnv(t, "")
	c := ctx(t)
	if _, err := env.AddDomain(c, "www.example.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.AddDomain(c, "pay.example.test"); err != nil {
		t.Fatal(err)
	}
	a, err := env.NewAgent(c, "web1", []string{"www.example.test"},
		fleet.CertSpec{Name: "web", Names: []string{"www.example.test", "pay.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	awaitRefusal(t, env, "web1", `may not have "pay.example.test"`)
	audit, err := env.Hub(c, "audit", "--agent", "web1")
	if err != nil || !strings.Contains(audit, "refused") {
		t.Fatalf("refusal not in the audit log: %v\n%s", err, audit)
	}
}

func TestHubRestart(t *testing.T) {
	env := newEnv(t, "")
	c := ctx(t)
	if err := env.AddZone(c, "corp.example.test"); err != nil {
		t.Fatal(err)
	}
	a, err := env.NewAgent(c, "app1", []string{"*.corp.example.test"},
		fleet.CertSpec{Name: "one", Names: []string{"app1.corp.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AwaitCert(c, "one", []string{"app1.corp.example.test"}, issueTimeout); err != nil {
		t.Fatal(err)
	}
	if err := env.StopHub(); err != nil {
		t.Fatalf("hub did not stop cleanly: %v", err)
	}
	if err := env.StartHub(c); err != nil {
		t.Fatal(err)
	}
	// State survived: the agent, the zone and the certificate record.
	r := hubStatus(t, env)
	if len(r.Agents) != 1 || len(r.Certs) != 1 {
		t.Fatalf("after restart: %d agents, %d certs; want 1 and 1", len(r.Agents), len(r.Certs))
	}
	// The agent reconnects by itself and a new certificate block is issued
	// with the same ACME account.
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteConfig(
		fleet.CertSpec{Name: "one", Names: []string{"app1.corp.example.test"}},
		fleet.CertSpec{Name: "two", Names: []string{"api.corp.example.test"}}); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AwaitCert(c, "two", []string{"api.corp.example.test"}, issueTimeout); err != nil {
		t.Fatal(err)
	}
	if st := env.Pebble.Stats(); st.AccountsCreated != 1 {
		t.Fatalf("CA created %d accounts; the hub must reuse its account", st.AccountsCreated)
	}
}

func TestAgentRestartKeepsCertificate(t *testing.T) {
	env := newEnv(t, "")
	c := ctx(t)
	if _, err := env.AddDomain(c, "www.example.test"); err != nil {
		t.Fatal(err)
	}
	a, err := env.NewAgent(c, "web1", []string{"www.example.test"}, fleet.CertSpec{Name: "web", Names: []string{"www.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	first, err := a.AwaitCert(c, "web", []string{"www.example.test"}, issueTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(); err != nil {
		t.Fatalf("agent did not stop cleanly: %v", err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the restarted agent reported to the hub, then check it
	// asked for nothing.
	started := time.Now()
	if err := fleet.Await(c, 30*time.Second, func() (bool, error) {
		for _, s := range hubStatus(t, env).Status {
			if s.AgentID == "web1" && s.LastSeen.After(started) {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		t.Fatalf("restarted agent never reported: %v", err)
	}
	if st := env.Pebble.Stats(); st.OrdersCreated != 1 {
		t.Fatalf("CA saw %d orders; a restart must not re-issue", st.OrdersCreated)
	}
	again, err := a.Leaf("web")
	if err != nil || again.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatalf("certificate changed across restart: %v", err)
	}
}
