package cli

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/service"
	"github.com/certfleet/certfleet/internal/cliusage/clitest"
)

// testHub is a real hub (embedded NATS with JWT auth and TLS, JetStream,
// challenge DNS, the admin API) running in this process on loopback, made
// by `init` like a user's. Its CA is unreachable (127.0.0.1:1), so nothing
// is ever issued; everything else works.
type testHub struct {
	dir, config, dataDir string
	initOut              string // what `init --json` printed
}

const testZone = "acme.example.test"

func startHub(tb testing.TB) *testHub {
	tb.Helper()
	dir := tb.TempDir()
	th := &testHub{dir: dir, config: filepath.Join(dir, "hub.toml"), dataDir: filepath.Join(dir, "data")}
	cfgText := fmt.Sprintf(`data_dir = %q
log_level = "warn"

[dns]
listen = "127.0.0.1:0"
domain = %q
records = ["ns1.%[2]s. 300 IN A 127.0.0.1"]

[nats]
listen = "127.0.0.1:0"

[[ca]]
name = "unreachable"
directory = "https://127.0.0.1:1/directory"
email = "ops@example.test"

[issuance]
resolvers = ["127.0.0.1:1"]
`, th.dataDir, testZone)
	if err := os.WriteFile(th.config, []byte(cfgText), 0o600); err != nil {
		tb.Fatal(err)
	}
	code, out, errOut := runHub("init", "--config", th.config, "--json")
	if code != 0 {
		tb.Fatalf("init: exit %d: %s", code, errOut)
	}
	th.initOut = out
	cfg, err := config.Load(th.config)
	if err != nil {
		tb.Fatal(err)
	}
	h, err := service.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), "test")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("hub run: %v", err)
		}
	})
	select {
	case <-h.Ready():
	case err := <-done:
		tb.Fatalf("hub stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		tb.Fatal("hub not ready after 30s")
	}
	return th
}

// run runs a hub command against this hub's config.
func (th *testHub) run(args ...string) (int, string, string) {
	return runHub(append(args, "--config", th.config)...)
}

var (
	oneJSONValue = clitest.OneJSONValue
	field        = clitest.Field
)

// step is one command of a scenario, run with --json.
type step struct {
	name  string
	args  []string // {var} is replaced by a value saved by an earlier step
	local bool     // the command reads no config: no --config
	stdin string
	code  int
	// want maps dotted paths to the value printed there (fmt.Sprint);
	// has lists paths that must hold a non-empty value.
	want map[string]string
	has  []string
	// save stores the value at a path under a name for later steps.
	save map[string]string
}

// runSteps runs steps in order against th, each as a subtest.
func runSteps(t *testing.T, th *testHub, vars map[string]string, steps []step) {
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			subst := func(s string) string {
				for k, v := range vars {
					s = strings.ReplaceAll(s, "{"+k+"}", v)
				}
				return s
			}
			args := make([]string, len(st.args))
			for i, a := range st.args {
				args[i] = subst(a)
			}
			args = append(args, "--json")
			if !st.local {
				args = append(args, "--config", th.config)
			}
			code, out, errOut := runHubIn(st.stdin, args...)
			if code != st.code {
				t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, st.code, out, errOut)
			}
			switch {
			case code == 0 && errOut != "":
				t.Errorf("%s: stderr %q: with --json only errors go there", strings.Join(args, " "), errOut)
			case code != 0 && !strings.HasPrefix(errOut, "certfleet-hub: "):
				t.Errorf("%s: exit %d without an error on stderr: %q", strings.Join(args, " "), code, errOut)
			}
			if st.want == nil && st.has == nil {
				if out != "" {
					t.Errorf("%s: failed but printed %q", strings.Join(args, " "), out)
				}
				return
			}
			v := oneJSONValue(t, strings.Join(args, " "), out)
			for p, want := range st.want {
				if want = subst(want); fmt.Sprint(field(v, p)) != want {
					t.Errorf("%s: %s = %q, want %q\n%s", strings.Join(args, " "), p, fmt.Sprint(field(v, p)), want, out)
				}
			}
			for _, p := range st.has {
				if x := field(v, p); x == nil || x == "" {
					t.Errorf("%s: %s is empty\n%s", strings.Join(args, " "), p, out)
				}
			}
			for name, p := range st.save {
				vars[name] = fmt.Sprint(field(v, p))
			}
		})
	}
}

// TestJSONOutput runs every admin command of a real hub with --json: one
// JSON value with snake_case keys on stdout, nothing on stderr, and on
// failure nothing on stdout, the error on stderr and exit 1 (2 for a
// usage mistake). The field names checked are those README documents.
func TestJSONOutput(t *testing.T) {
	th := startHub(t)
	initOut := oneJSONValue(t, "init --json", th.initOut)
	for p, want := range map[string]string{"config": th.config, "config_written": "false", "data_dir": th.dataDir, "zone": testZone, "nats": "embedded"} {
		if got := fmt.Sprint(field(initOut, p)); got != want {
			t.Errorf("init --json: %s = %q, want %q", p, got, want)
		}
	}
	dir := t.TempDir()
	vars := map[string]string{"dir": dir, "db": acmeDNSDatabase(t, filepath.Join(dir, "acme-dns.db"))}
	runSteps(t, th, vars, []step{
		// Before anything exists, every list is [] (never null).
		{name: "empty agent list", args: []string{"agent", "list"}, want: map[string]string{"agents": "[]"}},
		{name: "empty status", args: []string{"status"}, want: map[string]string{"agents": "[]", "status": "[]", "certs": "[]", "requests": "[]", "alerts": "[]"}},
		{name: "empty domain list", args: []string{"domain", "list"}, want: map[string]string{"domains": "[]"}},
		{name: "empty domain check", args: []string{"domain", "check"}, want: map[string]string{"findings": "[]"}},
		{name: "empty user list", args: []string{"user", "list"}, want: map[string]string{"users": "[]"}},
		{name: "empty tsig list", args: []string{"tsig", "list"}, want: map[string]string{"keys": "[]"}},
		{name: "empty acmedns list", args: []string{"acmedns", "list"}, want: map[string]string{"registrations": "[]"}},
		{name: "version", args: []string{"version"}, local: true, want: map[string]string{"version": Version}, has: []string{"protocol", "go", "os", "arch"}},
		{name: "check-config", args: []string{"check-config"}, want: map[string]string{"ok": "true", "zone": testZone, "nats": "embedded", "cas": "[unreachable]"}},
		{name: "domain add", args: []string{"domain", "add", "www.example.test"}, want: map[string]string{"domain.name": "www.example.test", "domain.mode": "cname"}, has: []string{"record", "domain.label"}},
		{name: "domain add zone", args: []string{"domain", "add", "--zone", "corp.example.test"}, want: map[string]string{"domain.mode": "zone"}, has: []string{"record"}},
		{name: "domain list", args: []string{"domain", "list"}, want: map[string]string{"hub_zone": testZone}, has: []string{"domains.1.name"}},
		// The resolvers are unreachable: not in place, so exit 1, JSON all the same.
		{name: "domain check", args: []string{"domain", "check", "www.example.test"}, code: 1, want: map[string]string{"findings.0.ok": "false", "findings.0.unreachable": "true"}},
		{name: "agent add token", args: []string{"agent", "add", "web1", "--allow", "www.example.test", "--token"},
			want: map[string]string{"agent.id": "web1", "credentials": "issued", "enrollment_file": "<nil>", "warnings": "[]"}, has: []string{"token", "agent.nkey", "agent.creds_expire"}},
		{name: "agent add file", args: []string{"agent", "add", "web2", "--allow", "www.example.test", "--out", "{dir}/web2.enroll.json"},
			want: map[string]string{"credentials": "issued", "enrollment_file": dir + "/web2.enroll.json", "token": "<nil>"}, save: map[string]string{"nkey2": "agent.nkey"}},
		{name: "agent add again", args: []string{"agent", "add", "web1", "--allow", "*.corp.example.test"},
			want: map[string]string{"credentials": "unchanged", "agent.allow": "[*.corp.example.test]"}},
		{name: "agent list", args: []string{"agent", "list"}, has: []string{"agents.0.id", "agents.1.nkey"}},
		{name: "status", args: []string{"status"}, has: []string{"agents.0.id", "now"}},
		{name: "audit", args: []string{"audit"}, has: []string{"events.0.kind", "events.0.time"}},
		{name: "renew agent", args: []string{"renew", "web1"}, want: map[string]string{"agent": "web1", "cert_name": "", "requested": "true"}},
		{name: "renew cert", args: []string{"renew", "web1", "web"}, want: map[string]string{"cert_name": "web"}},
		{name: "agent revoke-key", args: []string{"agent", "revoke-key", "{nkey2}"}, want: map[string]string{"agent": "web2", "warnings": "[]"}, has: []string{"key"}},
		{name: "agent remove", args: []string{"agent", "remove", "web2"}, want: map[string]string{"agent": "web2", "removed": "true", "revoked": "true"}},
		{name: "user add", args: []string{"user", "add", "alice", "--role", "admin"}, stdin: "correct horse battery\n", want: map[string]string{"name": "alice", "role": "admin"}},
		{name: "user list", args: []string{"user", "list"}, want: map[string]string{"users.0.name": "alice"}},
		{name: "user remove", args: []string{"user", "remove", "alice"}, want: map[string]string{"name": "alice", "removed": "true"}},
		{name: "tsig add", args: []string{"tsig", "add", "certbot-web", "--allow", "www.corp.example.test"},
			want: map[string]string{"name": "certbot-web", "algorithm": "hmac-sha256", "allow": "[www.corp.example.test]"}, has: []string{"secret", "created"}},
		{name: "tsig list", args: []string{"tsig", "list"}, want: map[string]string{"keys.0.name": "certbot-web", "keys.0.secret": "<nil>"}},
		{name: "tsig remove", args: []string{"tsig", "remove", "certbot-web"}, want: map[string]string{"removed": "true"}},
		{name: "acmedns register", args: []string{"acmedns", "register", "--allow-from", "127.0.0.1/32"},
			want: map[string]string{"allowfrom": "[127.0.0.1/32]"}, has: []string{"username", "password", "fulldomain", "subdomain"}, save: map[string]string{"acmeuser": "username"}},
		{name: "acmedns list", args: []string{"acmedns", "list"}, want: map[string]string{"registrations.0.username": "{acmeuser}"}},
		{name: "acmedns check", args: []string{"acmedns", "check"}, want: map[string]string{"findings": "[]"}},
		{name: "acmedns remove", args: []string{"acmedns", "remove", "{acmeuser}"}, want: map[string]string{"removed": "true"}, has: []string{"username"}},
		{name: "acmedns import dry run", args: []string{"acmedns", "import", "--sqlite", "{db}", "--dry-run"}, want: map[string]string{"read": "1", "dry_run": "true", "imported": "[]"}},
		{name: "acmedns import", args: []string{"acmedns", "import", "--sqlite", "{db}"}, want: map[string]string{"read": "1", "imported": "[" + importedUser + "]", "skipped": "[]", "rejected": "[]"}},
		{name: "acmedns import again", args: []string{"acmedns", "import", "--sqlite", "{db}"}, want: map[string]string{"imported": "[]", "skipped": "[" + importedUser + "]"}},

		{name: "failure", args: []string{"agent", "remove", "nosuch"}, code: 1},
		{name: "usage mistake", args: []string{"agent", "remove"}, code: 2},
		{name: "unknown flag", args: []string{"status", "--nope"}, code: 2},
	})
	if fi, err := os.Stat(filepath.Join(dir, "web2.enroll.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("enrollment file: %v %v, want mode 0600", fi, err)
	}
}

// importedUser is the one registration in acmeDNSDatabase.
const importedUser = "c36f50e8-4632-44f0-83fe-e070fef28a10"

// acmeDNSDatabase writes an acme-dns SQLite database with one
// registration, in acme-dns's schema, and returns its path.
func acmeDNSDatabase(tb testing.TB, path string) string {
	tb.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	hash, err := bcrypt.GenerateFromPassword([]byte("htB9mR9DYgcu9bX_afHF62erXaH2TS7bg9KW3F7Z"), 10)
	if err != nil {
		tb.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE acmedns(Name TEXT, Value TEXT)`,
		`CREATE TABLE records(Username TEXT UNIQUE NOT NULL PRIMARY KEY, Password TEXT UNIQUE NOT NULL, Subdomain TEXT UNIQUE NOT NULL, AllowFrom TEXT)`,
		`CREATE TABLE txt(Subdomain TEXT NOT NULL, Value TEXT NOT NULL DEFAULT '', LastUpdate INT)`,
		`INSERT INTO acmedns (Name, Value) values('db_version', '1')`,
	} {
		if _, err := db.Exec(q); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO records(Username, Password, Subdomain, AllowFrom) values(?, ?, ?, ?)`,
		importedUser, hash, "1e2a5dd4-4fb4-4d3c-9a89-1fb1d9a6c2ad", "[]"); err != nil {
		tb.Fatal(err)
	}
	return path
}

// TestLocalCommandsJSON: init and nats-setup, which need no running hub,
// print where everything went, and those files exist.
func TestLocalCommandsJSON(t *testing.T) {
	dir := t.TempDir()
	t.Run("init", func(t *testing.T) {
		cfgPath := filepath.Join(dir, "etc", "hub.toml")
		code, out, errOut := runHub("init", "--config", cfgPath, "--data-dir", filepath.Join(dir, "data"), "--domain", testZone, "--json")
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		v := oneJSONValue(t, "init --json", out)
		for p, want := range map[string]string{"config": cfgPath, "config_written": "true", "data_dir": filepath.Join(dir, "data"), "zone": testZone, "nats": "embedded"} {
			if got := fmt.Sprint(field(v, p)); got != want {
				t.Errorf("%s = %q, want %q", p, got, want)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "data", "nats", "admin.creds")); err != nil {
			t.Error(err)
		}
	})
	t.Run("nats-setup", func(t *testing.T) {
		out := filepath.Join(dir, "nats")
		code, stdout, errOut := runHub("nats-setup", "--out", out, "--url", "tls://127.0.0.1:4222", "--tls-host", "127.0.0.1", "--json")
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		v := oneJSONValue(t, "nats-setup --json", stdout)
		if got := fmt.Sprint(field(v, "dir")); got != out {
			t.Errorf("dir = %q, want %q", got, out)
		}
		for _, p := range []string{"operator_dir", "server_config", "hub_dir", "hub_config", "credentials", "signing_key", "admin_creds", "ca"} {
			path, _ := field(v, p).(string)
			if _, err := os.Stat(path); path == "" || err != nil {
				t.Errorf("%s = %q: %v", p, path, err)
			}
		}
		for _, p := range []string{"hub_account", "agents_account"} {
			if k, _ := field(v, p).(string); !strings.HasPrefix(k, "A") {
				t.Errorf("%s = %q, want an account key", p, k)
			}
		}
		if field(v, "hub_account") == field(v, "agents_account") {
			t.Error("hub and agents accounts are the same")
		}
	})
}
