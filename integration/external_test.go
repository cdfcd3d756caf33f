package integration

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/integration/fleet"
	"github.com/certfleet/certfleet/integration/pebble"
	"github.com/certfleet/certfleet/shared"
)

// The nats-server binary, built once per test run into binDir.
var (
	natsServerOnce sync.Once
	natsServerBin  string
	natsServerErr  error
)

func natsServer(t *testing.T) string {
	t.Helper()
	natsServerOnce.Do(func() {
		natsServerBin, natsServerErr = fleet.BuildNATSServer(context.Background(), binDir)
	})
	if natsServerErr != nil {
		t.Fatal(natsServerErr)
	}
	return natsServerBin
}

// newExternalEnv is newEnv with the hub on a separate nats-server process
// set up by `certfleet-hub nats-setup`.
func newExternalEnv(t *testing.T, hubConfig string) (*fleet.Env, *fleet.ExternalNATS) {
	t.Helper()
	bin := natsServer(t)
	dir := t.TempDir()
	began := time.Now()
	env, x, err := fleet.NewExternal(ctx(t), fleet.Options{
		Dir: dir, BinDir: binDir, HubConfig: hubConfig,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Pebble: pebble.Options{ChallengeRetryAfter: time.Second},
	}, bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, dir)
		}
		env.Close()
		x.Close()
	})
	if err := env.StartHub(ctx(t)); err != nil {
		t.Fatal(err)
	}
	t.Logf("external NATS set up (nats-setup, nats-server, hub ready) in %s", time.Since(began).Round(time.Millisecond))
	return env, x
}

// TestExternalNATS: the hub runs on a nats-server it does not embed,
// configured only from nats-setup's output; an agent enrolled through it
// gets its certificate; removing the agent warns instead of failing, and
// the NATS operator's side can still cut the agent off at once.
func TestExternalNATS(t *testing.T) {
	t.Parallel()
	env, x := newExternalEnv(t, "")
	c := ctx(t)
	if got := env.HubRun().NATSURL; got != x.URL {
		t.Fatalf("hub serves NATS at %s, want the external server %s", got, x.URL)
	}

	if _, err := env.AddDomain(c, "ext.example.test"); err != nil {
		t.Fatal(err)
	}
	a, err := env.NewAgent(c, "ext1", []string{"ext.example.test"},
		fleet.CertSpec{Name: "web", Names: []string{"ext.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	enr := readEnrollment(t, a)
	if !slices.Equal(enr.URLs, []string{x.URL}) || enr.CA != string(x.CAPEM) {
		t.Fatalf("enrollment points at %v with CA %q, want the external server %s and its CA", enr.URLs, enr.CA, x.URL)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AwaitCert(c, "web", []string{"ext.example.test"}, issueTimeout); err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, env, a, "web")

	// The hub's state lives in the external server's JetStream.
	hubConn, err := x.Connect(filepath.Join(x.SetupDir, "hub", "hub.creds"))
	if err != nil {
		t.Fatal(err)
	}
	defer hubConn.Close()
	js, err := jetstream.New(hubConn)
	if err != nil {
		t.Fatal(err)
	}
	var streams []string
	for name := range js.StreamNames(c).Name() {
		streams = append(streams, name)
	}
	if len(streams) == 0 {
		t.Fatal("no JetStream streams on the external server")
	}

	// Agent remove: no live revocation here, so a warning, not a failure.
	agentCreds := filepath.Join(a.Dir, "state", "agent.creds")
	pub := credsUser(t, agentCreds)
	if _, err := env.Hub(c, "agent", "remove", "ext1"); err != nil {
		t.Fatalf("agent remove on external NATS failed: %v", err)
	}
	if err := fleet.Await(c, 10*time.Second, func() (bool, error) {
		return strings.Contains(env.HubProc().LogTail(200), "external NATS cannot revoke live"), nil
	}); err != nil {
		t.Fatal("hub did not warn that it cannot revoke live on external NATS")
	}
	// The credentials still connect (until they expire), but the hub no
	// longer serves the agent.
	probe, err := x.Connect(agentCreds, nats.NoReconnect())
	if err != nil {
		t.Fatalf("removed agent's unexpired credentials refused on external NATS: %v (expected to last until expiry)", err)
	}
	defer probe.Close()
	if err := helloErr(probe, "ext1"); shared.CodeOf(err) != shared.CodeUnknownAgent {
		t.Fatalf("hello of a removed agent: %v, want %s", err, shared.CodeUnknownAgent)
	}

	// Whoever holds nats-setup's operator/ directory can revoke live: the
	// push reaches the full resolver, which cuts the agent off.
	began := time.Now()
	if _, err := runCmd(c, filepath.Join(binDir, "certfleet-hub"), "nats-setup", "revoke", "--out", x.SetupDir, pub); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Await(c, 5*time.Second, func() (bool, error) { return probe.IsClosed(), nil }); err != nil {
		t.Fatal("operator-side revocation did not cut the agent off the external server")
	}
	t.Logf("operator-side revocation on the external server cut the agent off in %s", time.Since(began).Round(time.Millisecond))
	if nc, err := x.Connect(agentCreds, nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("revoked agent reconnected to the external server")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Fatalf("revoked agent's reconnect: %v, want an authorization violation", err)
	}
	if err := a.Stop(); err != nil {
		t.Logf("agent stop: %v", err)
	}
	if err := env.StopHub(); err != nil {
		t.Fatalf("hub on external NATS did not stop cleanly: %v", err)
	}
}

// TestNATSSetupFiles: nats-setup's files are private and idempotent, the
// server fragment holds no secret, and the hub side gets no operator or
// account identity key.
func TestNATSSetupFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "setup")
	hub := filepath.Join(binDir, "certfleet-hub")
	run := func() {
		t.Helper()
		out, err := runCmd(ctx(t), hub, "nats-setup", "--out", dir, "--url", "tls://nats.example.test:4222", "--tls-host", "nats.example.test")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "account: A") {
			t.Fatalf("nats-setup output names no account:\n%s", out)
		}
	}
	run()
	first := map[string][]byte{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		switch {
		case info.IsDir() && info.Mode().Perm() != 0o700:
			t.Errorf("%s: mode %v, want 0700", p, info.Mode().Perm())
		case !info.IsDir() && info.Mode().Perm() != 0o600:
			t.Errorf("%s: mode %v, want 0600", p, info.Mode().Perm())
		case !info.IsDir():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			first[p] = b
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	hubFiles, err := os.ReadDir(filepath.Join(dir, "hub"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range hubFiles {
		names = append(names, f.Name())
	}
	if want := []string{"admin.creds", "agents-signing.nk", "ca.pem", "hub.creds", "nats-external.toml"}; !slices.Equal(names, want) {
		t.Fatalf("hub files %v, want %v", names, want)
	}
	conf := string(first[filepath.Join(dir, "server", "certfleet.conf")])
	for _, f := range []string{"operator.nk", "system-account.nk", "account.nk", "agents-account.nk", "agents-signing.nk"} {
		seed := strings.TrimSpace(string(first[filepath.Join(dir, "operator", f)]))
		if seed == "" || strings.Contains(conf, seed) {
			t.Fatalf("server fragment holds the seed of %s (or it is missing)", f)
		}
	}
	if !strings.Contains(conf, "type: full") || !strings.Contains(conf, "resolver_preload") {
		t.Fatalf("server fragment without a full, preloaded resolver:\n%s", conf)
	}

	// revoke takes only user keys, and says so before it connects anywhere.
	if _, err := runCmd(ctx(t), hub, "nats-setup", "revoke", "--out", dir, "web1"); err == nil || !strings.Contains(err.Error(), "not a user public key") {
		t.Fatalf("revoke of a non-key: %v", err)
	}

	// Again: keys kept, the hub's files the same.
	run()
	for p, b := range first {
		if strings.HasSuffix(p, ".nk") || strings.Contains(p, string(filepath.Separator)+"hub"+string(filepath.Separator)) {
			now, err := os.ReadFile(p)
			if err != nil || string(now) != string(b) {
				t.Fatalf("%s changed on a second run (%v)", p, err)
			}
		}
	}
}

func readEnrollment(t *testing.T, a *fleet.Agent) *shared.Enrollment {
	t.Helper()
	return mustEnrollment(t, filepath.Join(a.Dir, a.Name+".enroll.json"))
}

// credsUser returns the user public key of a creds file.
func credsUser(t *testing.T, path string) string {
	t.Helper()
	return credsClaims(t, path).Subject
}

// credsClaims decodes the user JWT of a creds file.
func credsClaims(t *testing.T, path string) *jwt.UserClaims {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseDecoratedJWT(b)
	if err != nil {
		t.Fatal(err)
	}
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		t.Fatal(err)
	}
	return uc
}

// helloErr sends a hello as agent id and returns the hub's error, if any.
func helloErr(nc *nats.Conn, id string) error {
	data, err := shared.Encode(&shared.Hello{AgentVersion: "test", Protocol: shared.ProtocolVersion})
	if err != nil {
		return err
	}
	m, err := agentRequest(nc, id, shared.VerbHello, data, 5*time.Second)
	if err != nil {
		return err
	}
	var r shared.HelloReply
	return shared.DecodeReply(m.Data, &r)
}

// runCmd runs bin and returns its stdout; stderr is in the error.
func runCmd(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}
