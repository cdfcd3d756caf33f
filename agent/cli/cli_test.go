package cli_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/certfleet/certfleet/agent"
	"github.com/certfleet/certfleet/agent/cli"
	"github.com/certfleet/certfleet/agent/client"
	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/agent/internal/fakehub"
	"github.com/certfleet/certfleet/agent/state"
	"github.com/certfleet/certfleet/internal/natstest"
	"github.com/certfleet/certfleet/shared"
)

const agentID = "cliagent"

func startNATS(tb testing.TB) string {
	tb.Helper()
	s := natstest.JetStream(tb)
	return s.ClientURL()
}

func enrollment(tb testing.TB, id, url string) *shared.Enrollment {
	tb.Helper()
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	enc := base64.RawURLEncoding
	body, _ := json.Marshal(map[string]any{"sub": pub, "nats": map[string]string{"type": "user"}})
	jwt := enc.EncodeToString([]byte(`{"alg":"ed25519-nkey"}`)) + "." + enc.EncodeToString(body) + ".c2ln"
	return &shared.Enrollment{Type: shared.TypeEnrollment, AgentID: id, URLs: []string{url}, Creds: string(client.FormatCreds(jwt, seed)), Created: time.Now()}
}

// setup writes a configuration with one block "web" and returns its path.
func setup(tb testing.TB, extra string) (string, config.Config) {
	tb.Helper()
	dir, err := os.MkdirTemp("", "cfcli-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	certs := filepath.Join(dir, "certs")
	os.Mkdir(certs, 0o755)
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	text := fmt.Sprintf(`state_dir = %s
log_level = "warn"

[[certificate]]
name = "web"
names = ["www.example.org"]
cert = %s
chain = %s
key = %s
%s
`, q(filepath.Join(dir, "state")), q(filepath.Join(certs, "cert.pem")), q(filepath.Join(certs, "chain.pem")), q(filepath.Join(certs, "key.pem")), extra)
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		tb.Fatalf("test config: %v", err)
	}
	return path, cfg
}

func run(tb testing.TB, args ...string) (int, string, string) {
	tb.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), cli.Env{Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "certfleet-agent ") || !strings.Contains(out, fmt.Sprintf("protocol %d", shared.ProtocolVersion)) {
		t.Fatalf("version: %d %q", code, out)
	}
}

func TestExampleConfig(t *testing.T) {
	code, out, _ := run(t, "example-config")
	if code != 0 || !strings.Contains(out, "[[certificate]]") {
		t.Fatalf("example-config: %d %q", code, out)
	}
}

func TestCheckConfig(t *testing.T) {
	path, _ := setup(t, "")
	code, out, errs := run(t, "check-config", "--config", path)
	if code != 0 || !strings.Contains(out, "ok; 1 certificate block(s)") || !strings.Contains(out, "not enrolled") {
		t.Fatalf("good config: %d %q %q", code, out, errs)
	}
	cases := []struct{ name, extra, want string }{
		{"unknown key", `colour = "blue"`, "certificate.colour (line 11): unknown key"},
		{"bad mode", `mode = "0666"`, "certificate[0].mode"},
		{"missing reload program", `reload = ["/nonexistent/reloader"]`, "certificate[0].reload"},
	}
	if runtime.GOOS != "windows" {
		cases = append(cases, struct{ name, extra, want string }{"unknown owner", `owner = "no-such-user-certfleet"`, "no-such-user-certfleet"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, _ := setup(t, "")
			data, _ := os.ReadFile(path)
			bad := filepath.Join(dir, "bad.toml")
			os.WriteFile(bad, append(data, []byte(tc.extra+"\n")...), 0o600)
			code, _, errs := run(t, "check-config", "--config", bad)
			if code == 0 || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want failure naming %q", code, errs, tc.want)
			}
		})
	}
}

// TestCheckConfigDeprecatedKeyType: an old key_type spelling still loads,
// and the warning naming the file, the field and the new spelling is
// logged once.
func TestCheckConfigDeprecatedKeyType(t *testing.T) {
	path, cfg := setup(t, `key_type = "ecdsa-p384"`)
	if got := cfg.Certificates[0].KeyType; got != "ec384" {
		t.Fatalf("key_type read as %q", got)
	}
	code, out, errs := run(t, "check-config", "--config", path)
	if code != 0 || !strings.Contains(out, "ok;") {
		t.Fatalf("check-config: %d %q %q", code, out, errs)
	}
	if n := strings.Count(errs, "deprecated spelling"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, errs)
	}
	for _, want := range []string{"level=WARN", "file=" + path, "field=certificate[0].key_type", "value=ecdsa-p384", `write \"ec384\" instead`} {
		if !strings.Contains(errs, want) {
			t.Errorf("warning lacks %q:\n%s", want, errs)
		}
	}
}

func TestEnroll(t *testing.T) {
	path, cfg := setup(t, "")
	e := enrollment(t, "host-a", "nats://127.0.0.1:4222")
	token, _ := e.Token()
	code, out, errs := run(t, "enroll", token, "--config", path)
	if code != 0 || !strings.Contains(out, `"host-a"`) {
		t.Fatalf("enroll token: %d %q %q", code, out, errs)
	}
	if runtime.GOOS != "windows" {
		for _, p := range []string{cfg.EnrollmentPath(), cfg.CredsPath()} {
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v %v", p, fi, err)
			}
		}
	}
	creds, _ := os.ReadFile(cfg.CredsPath())
	if string(creds) != e.Creds {
		t.Error("credentials not stored as given")
	}
	// Another agent's bundle, as a file: refused without --force.
	other := enrollment(t, "host-b", "nats://127.0.0.1:4222")
	data, _ := json.Marshal(other)
	file := filepath.Join(t.TempDir(), "enroll.json")
	os.WriteFile(file, data, 0o600)
	if code, _, errs := run(t, "enroll", file, "--config", path); code == 0 || !strings.Contains(errs, "--force") {
		t.Fatalf("re-enroll as another agent: %d %q", code, errs)
	}
	if code, _, errs := run(t, "enroll", file, "--force", "--config", path); code != 0 {
		t.Fatalf("forced re-enroll: %q", errs)
	}
	if e, err := agent.LoadEnrollment(cfg.EnrollmentPath()); err != nil || e.AgentID != "host-b" {
		t.Fatalf("after forced enroll: %+v %v", e, err)
	}
	if code, _, errs := run(t, "enroll", "cfenroll1_notbase64!", "--config", path); code == 0 || errs == "" {
		t.Fatal("bad token accepted")
	}
}

// liveWorld runs a fake hub and enrolls the configuration at path.
func liveWorld(t *testing.T, path string, cfg config.Config) *fakehub.Hub {
	t.Helper()
	url := startNATS(t)
	hub := fakehub.Start(t, url)
	token, _ := enrollment(t, agentID, url).Token()
	if code, _, errs := run(t, "enroll", token, "--config", path); code != 0 {
		t.Fatalf("enroll: %s", errs)
	}
	return hub
}

func TestRenewWithoutDaemonThenStatus(t *testing.T) {
	path, cfg := setup(t, "")
	liveWorld(t, path, cfg)
	code, out, errs := run(t, "renew", "web", "--config", path, "--timeout", "20s")
	if code != 0 || !strings.Contains(out, "web: issued, serial") || !strings.Contains(errs, "renewing in this process") {
		t.Fatalf("renew in process: %d %q %q", code, out, errs)
	}
	code, out, _ = run(t, "status", "--config", path)
	if code != 0 || !strings.Contains(out, "BLOCK") || !strings.Contains(out, "www.example.org") || !strings.Contains(out, "ok") {
		t.Fatalf("status: %d %q", code, out)
	}
	code, out, _ = run(t, "status", "--json", "--config", path)
	var rows []cli.BlockStatus
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].Serial == "" || rows[0].LastResult != "ok" {
		t.Fatalf("status --json: %d %q", code, out)
	}
	if code, _, errs := run(t, "renew", "nosuch", "--config", path); code == 0 || !strings.Contains(errs, "nosuch") {
		t.Fatalf("renew of unknown block: %d %q", code, errs)
	}
}

func TestRenewThroughRunningAgent(t *testing.T) {
	if runtime.GOOS == "windows" {
		if ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "probe.sock")); err != nil {
			t.Skipf("unix sockets unsupported: %v", err)
		} else {
			ln.Close()
		}
	}
	path, cfg := setup(t, "")
	hub := liveWorld(t, path, cfg)
	a, err := agent.New(cfg, agent.Options{PollInterval: 200 * time.Millisecond, StatusInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- a.Run(context.Background()) }()
	t.Cleanup(func() {
		a.Close()
		if err := <-errc; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	hub.Wait(t, 15*time.Second, "first certificate", func() bool {
		for _, s := range hub.Statuses(agentID) {
			if len(s.Certificates) == 1 && s.Certificates[0].LastResult == "ok" {
				return true
			}
		}
		return false
	})
	before := len(hub.Requests())
	code, out, errs := run(t, "renew", "--config", path, "--timeout", "20s")
	if code != 0 || !strings.Contains(out, "web: issued") || strings.Contains(errs, "in this process") {
		t.Fatalf("renew via daemon: %d %q %q", code, out, errs)
	}
	if got := len(hub.Requests()); got != before+1 {
		t.Errorf("%d requests, want %d", got, before+1)
	}
}

func TestSystemdUnit(t *testing.T) {
	unit := cli.SystemdUnit("/usr/local/bin/certfleet-agent", []string{"run", "--config", "/etc/certfleet agent/100%.toml"},
		[]string{"/var/lib/certfleet-agent", "/etc/ssl/web"}, "")
	for _, want := range []string{
		`ExecStart="/usr/local/bin/certfleet-agent" "run" "--config" "/etc/certfleet agent/100%%.toml"`,
		`ReadWritePaths=-"/var/lib/certfleet-agent" -"/etc/ssl/web"`,
		"ProtectSystem=strict", "NoNewPrivileges=yes", "UMask=0077", "Restart=on-failure", "StartLimitBurst=5", "WantedBy=multi-user.target",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	if strings.Contains(unit, "{{") {
		t.Error("unit holds template actions")
	}
}

func TestServiceHelp(t *testing.T) {
	code, out, _ := run(t, "service", "--help")
	for _, sub := range []string{"install", "uninstall", "start", "stop"} {
		if !strings.Contains(out, sub) {
			t.Errorf("service help lacks %s", sub)
		}
	}
	if code != 0 {
		t.Fatal(code)
	}
}

// TestStatusShowsFailures: the table and the JSON carry the error code,
// attempts, next attempt and whether retries are blocked.
func TestStatusShowsFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cert      state.Cert
		wantTable []string
	}{
		{
			name: "transient",
			cert: state.Cert{LastResult: state.ResultFailed, LastError: "CA said:\nslow down", LastErrorCode: "rate_limited",
				Failures: 3, RetryAt: time.Now().Add(time.Hour)},
			wantTable: []string{"NEXT ATTEMPT", "failed: rate_limited: CA said: slow down [3 attempts]", time.Now().Add(time.Hour).Local().Format("2006-01-02")},
		},
		{
			name:      "blocked",
			cert:      state.Cert{LastResult: state.ResultFailed, LastError: "not allowed", LastErrorCode: "name_not_allowed", Failures: 1, Blocked: true},
			wantTable: []string{"failed: name_not_allowed: not allowed", "not until config changes or renew"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, cfg := setup(t, "")
			st := state.New()
			c := tc.cert
			st.Certificates["web"] = &c
			if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := st.Save(cfg.StatePath()); err != nil {
				t.Fatal(err)
			}
			code, out, errs := run(t, "status", "--config", path)
			if code != 0 {
				t.Fatalf("status: %d %q", code, errs)
			}
			for _, want := range tc.wantTable {
				if !strings.Contains(out, want) {
					t.Errorf("table lacks %q:\n%s", want, out)
				}
			}
			code, out, _ = run(t, "status", "--json", "--config", path)
			var rows []cli.BlockStatus
			if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 {
				t.Fatalf("status --json: %d %q", code, out)
			}
			r := rows[0]
			if string(r.LastErrorCode) != c.LastErrorCode || r.Attempts != c.Failures || r.Blocked != c.Blocked ||
				!r.NextAttempt.Equal(c.RetryAt) {
				t.Errorf("json row %+v does not match state %+v", r, c)
			}
		})
	}
}

// TestUsageExitCode: a usage mistake exits 2 and names the usage line; a
// failure exits 1.
func TestUsageExitCode(t *testing.T) {
	if code, _, errOut := run(t, "enroll"); code != 2 || !strings.Contains(errOut, "usage: certfleet-agent enroll") {
		t.Fatalf("enroll without a file: exit %d, %q", code, errOut)
	}
	if code, _, _ := run(t, "no-such-command"); code != 2 {
		t.Fatalf("unknown command: exit %d", code)
	}
	if code, _, _ := run(t, "check-config", "--config", filepath.Join(t.TempDir(), "missing.toml")); code != 1 {
		t.Fatalf("missing config: exit %d, want 1", code)
	}
}
