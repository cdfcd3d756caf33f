package agent_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/certfleet/certfleet/agent"
	"github.com/certfleet/certfleet/agent/client"
	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/agent/install"
	"github.com/certfleet/certfleet/agent/internal/fakehub"
	"github.com/certfleet/certfleet/agent/state"
	"github.com/certfleet/certfleet/shared"
)

// The test binary doubles as the reload command:
//
//	<test binary> reload-helper LOGFILE EXITCODE
//
// appends one line to LOGFILE ("reload" or "rollback") and exits.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "reload-helper" {
		line := "reload"
		if os.Getenv("CERTFLEET_ROLLBACK") == "1" {
			line = "rollback"
		}
		f, err := os.OpenFile(os.Args[2], os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err == nil {
			fmt.Fprintf(f, "%s %s\n", line, os.Getenv("CERTFLEET_CERT_NAME"))
			f.Close()
		}
		if os.Args[3] != "0" {
			fmt.Println("reload refused by test")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const agentID = "agent1"

// startNATS runs an embedded JetStream server on a loopback port.
func startNATS(tb testing.TB) (*server.Server, string) {
	tb.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: tb.TempDir(), NoSigs: true, NoLog: true,
	})
	if err != nil {
		tb.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server not ready")
	}
	tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s, s.ClientURL()
}

// world is one hub and one agent configuration.
type world struct {
	hub       *fakehub.Hub
	url       string
	cfg       config.Config
	reloadLog string
	seedPub   string
}

func newWorld(tb testing.TB) *world {
	tb.Helper()
	_, url := startNATS(tb)
	w := &world{hub: fakehub.Start(tb, url), url: url}
	w.cfg, w.reloadLog, w.seedPub = agentConfig(tb, url)
	return w
}

// shortTempDir keeps unix socket paths under the 104-108 byte limit,
// which test names in t.TempDir() can exceed.
func shortTempDir(tb testing.TB) string {
	tb.Helper()
	d, err := os.MkdirTemp("", "cfa-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// agentConfig writes an enrollment for url and returns a configuration
// with one block "web", whose reload appends to the returned log file.
func agentConfig(tb testing.TB, url string) (config.Config, string, string) {
	tb.Helper()
	dir := shortTempDir(tb)
	certDir := filepath.Join(dir, "certs")
	if err := os.Mkdir(certDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	reloadLog := filepath.Join(dir, "reload.log")
	cfg := config.DefaultConfig()
	cfg.StateDir = filepath.Join(dir, "state")
	b := config.Certificate{
		Name:      "web",
		Names:     []string{"www.example.org", "example.org"},
		Cert:      filepath.Join(certDir, "cert.pem"),
		Chain:     filepath.Join(certDir, "chain.pem"),
		Fullchain: filepath.Join(certDir, "fullchain.pem"),
		Key:       filepath.Join(certDir, "key.pem"),
		Reload:    reloadArgv(reloadLog, 0),
	}
	cfg.Certificates = []config.Certificate{withDefaults(tb, b)}
	creds, pub := testCreds(tb)
	e := &shared.Enrollment{Type: shared.TypeEnrollment, AgentID: agentID, URLs: []string{url}, Creds: creds, Created: time.Now()}
	if err := agent.Enroll(cfg, e, false); err != nil {
		tb.Fatalf("enroll: %v", err)
	}
	return cfg, reloadLog, pub
}

// requireUnixSockets skips tests of the control socket where the
// platform has no AF_UNIX (wine, Windows before 1803).
func requireUnixSockets(tb testing.TB) {
	tb.Helper()
	if runtime.GOOS != "windows" {
		return
	}
	p := filepath.Join(shortTempDir(tb), "probe.sock")
	ln, err := net.Listen("unix", p)
	if err != nil {
		tb.Skipf("unix sockets unsupported: %v", err)
	}
	ln.Close()
}

func reloadArgv(logFile string, exit int) []string {
	return []string{os.Args[0], "reload-helper", logFile, fmt.Sprint(exit)}
}

// withDefaults runs a block through the TOML defaults by round-tripping
// the fields that have them.
func withDefaults(tb testing.TB, b config.Certificate) config.Certificate {
	tb.Helper()
	b.KeyType = config.DefaultKeyType
	b.Mode = config.FileMode{Mode: config.DefaultKeyMode, Set: true}
	b.CertMode = config.FileMode{Mode: config.DefaultCertMode, Set: true}
	b.ReloadTimeout.Duration = 20 * time.Second
	return b
}

// testCreds makes a NATS credentials file for a fresh user key. The
// test server has no auth, so the JWT only needs the right subject.
func testCreds(tb testing.TB) (string, string) {
	tb.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		tb.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	return string(client.FormatCreds(fakeJWT(pub, time.Now().Add(24*time.Hour)), seed)), pub
}

func fakeJWT(sub string, exp time.Time) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"typ":"JWT","alg":"ed25519-nkey"}`))
	body, _ := json.Marshal(map[string]any{"sub": sub, "exp": exp.Unix(), "name": agentID, "nats": map[string]any{"type": "user"}})
	return head + "." + enc.EncodeToString(body) + ".c2ln"
}

func fastOptions() agent.Options {
	return agent.Options{
		PollInterval:   150 * time.Millisecond,
		StatusInterval: 300 * time.Millisecond,
		RequestTimeout: 3 * time.Second,
		RetryBase:      100 * time.Millisecond,
		RetryMax:       2 * time.Second,
		LostAfter:      time.Second,
	}
}

// startAgent runs an agent until the test ends (or stop is called) and
// fails the test if Run returns an error.
func startAgent(tb testing.TB, cfg config.Config) (stop func()) {
	tb.Helper()
	return startAgentWith(tb, cfg, fastOptions())
}

// startAgentWith is startAgent with other options.
func startAgentWith(tb testing.TB, cfg config.Config, opts agent.Options) (stop func()) {
	tb.Helper()
	a, err := agent.New(cfg, opts)
	if err != nil {
		tb.Fatalf("new agent: %v", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- a.Run(context.Background()) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		a.Close()
		if err := <-errc; err != nil {
			tb.Errorf("agent run: %v", err)
		}
	}
	tb.Cleanup(stop)
	return stop
}

// waitInstalled waits for a status report showing a serial other than
// not, and returns it.
func (w *world) waitInstalled(tb testing.TB, not string) string {
	tb.Helper()
	var serial string
	w.hub.Wait(tb, 15*time.Second, "status report with a new serial", func() bool {
		for _, s := range w.hub.Statuses(agentID) {
			for _, c := range s.Certificates {
				if c.Name == "web" && c.Serial != "" && c.Serial != not && c.LastResult == state.ResultOK {
					serial = c.Serial
				}
			}
		}
		return serial != ""
	})
	return serial
}

func (w *world) waitRequests(tb testing.TB, n int) []fakehub.Request {
	tb.Helper()
	w.hub.Wait(tb, 15*time.Second, fmt.Sprintf("%d certificate requests", n), func() bool {
		return len(w.hub.Requests()) >= n
	})
	return w.hub.Requests()
}

// waitStatuses waits for n more status reports than there are now.
func (w *world) waitStatuses(tb testing.TB, n int) {
	tb.Helper()
	base := len(w.hub.Statuses(agentID))
	w.hub.Wait(tb, 15*time.Second, fmt.Sprintf("%d more status reports", n), func() bool {
		return len(w.hub.Statuses(agentID)) >= base+n
	})
}

func reloads(tb testing.TB, logFile string) []string {
	tb.Helper()
	data, err := os.ReadFile(logFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(string(data), " web", ""))
}

// installedLeaf reads and checks the block's files.
func installedLeaf(tb testing.TB, b config.Certificate) *x509.Certificate {
	tb.Helper()
	inst, err := install.ReadInstalled(install.TargetFor(b))
	if err != nil {
		tb.Fatalf("installed files: %v", err)
	}
	return inst.Leaf
}

func loadState(tb testing.TB, cfg config.Config) *state.State {
	tb.Helper()
	st, err := state.Load(cfg.StatePath())
	if err != nil {
		tb.Fatal(err)
	}
	return st
}
