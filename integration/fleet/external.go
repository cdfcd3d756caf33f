package fleet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/hub/datadir"
)

// natsServerModule is the nats-server main package; go.mod pins its version
// (the one the hub embeds), so the external server is the same release.
const natsServerModule = "github.com/nats-io/nats-server/v2"

var buildNATSMu sync.Mutex

// BuildNATSServer builds the nats-server release this module requires into
// dir, unless a binary is there already, and returns its path. It needs
// only the Go toolchain and the module proxy (or the module cache).
func BuildNATSServer(ctx context.Context, dir string) (string, error) {
	buildNATSMu.Lock()
	defer buildNATSMu.Unlock()
	bin := filepath.Join(dir, "nats-server")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	tmp := bin + ".tmp"
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, natsServerModule)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build nats-server: %w\n%s", err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("build nats-server: %w", err)
	}
	return bin, nil
}

// ExternalNATS is a nats-server process set up with `certfleet-hub
// nats-setup`: a stand-in for an operator-mode NATS deployment the hub
// does not run.
type ExternalNATS struct {
	// SetupDir is the nats-setup output (operator/, server/, hub/).
	SetupDir string
	// URL is the client URL, tls://127.0.0.1:<port>.
	URL string
	// CAPEM is the CA the server's certificate chains to.
	CAPEM []byte

	// Name is the server's name (server_name).
	Name string

	bin, conf, logPath string
	// dir is the server's working directory ("" for the test's): relative
	// paths in its config, such as a cluster node's resolver dir, are
	// relative to it.
	dir  string
	mu   sync.Mutex
	proc *Proc
}

// NewExternal is New for a hub on an external NATS. It runs `certfleet-hub
// nats-setup` as an operator would, starts natsServer (a nats-server
// binary, see BuildNATSServer) as a process with the fragment nats-setup
// wrote, JetStream and TLS, on the port the hub's config hands to agents,
// and appends the [nats.external] section nats-setup wrote to the hub's
// config. Call StartHub next; close the Env before the ExternalNATS.
func NewExternal(ctx context.Context, opts Options, natsServer string) (*Env, *ExternalNATS, error) {
	e, err := New(opts)
	if err != nil {
		return nil, nil, err
	}
	x, err := e.setupExternal(ctx, natsServer)
	if err != nil {
		e.Close()
		return nil, nil, err
	}
	return e, x, nil
}

func (e *Env) setupExternal(ctx context.Context, natsServer string) (*ExternalNATS, error) {
	setup := filepath.Join(e.opts.Dir, "nats-setup")
	// The port the generated hub config advertises: with [nats.external]
	// the hub embeds no server, so the external one takes it.
	url := fmt.Sprintf("tls://127.0.0.1:%d", e.natsPort)
	if _, err := e.run(ctx, filepath.Join(e.opts.BinDir, "certfleet-hub"), "nats-setup", "--out", setup,
		"--url", url, "--tls-host", "127.0.0.1", "--tls-host", "localhost"); err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(filepath.Join(setup, "hub", "ca.pem"))
	if err != nil {
		return nil, fmt.Errorf("nats-setup made no CA for the hub: %w", err)
	}
	x := &ExternalNATS{SetupDir: setup, URL: url, CAPEM: ca, bin: natsServer, Name: "certfleet-external",
		conf: filepath.Join(setup, "server", "nats-server.conf"), logPath: filepath.Join(e.opts.Dir, "nats-server.log")}
	// The server's own config, as its operator would write it around the
	// fragment.
	main := fmt.Sprintf("server_name: certfleet-external\nhost: 127.0.0.1\nport: %d\njetstream {\n  store_dir: %q\n}\ninclude ./certfleet.conf\n",
		e.natsPort, filepath.Join(e.opts.Dir, "nats-js"))
	if err := os.WriteFile(x.conf, []byte(main), 0o600); err != nil {
		return nil, fmt.Errorf("write nats-server config: %w", err)
	}
	if err := x.Start(ctx); err != nil {
		return nil, err
	}
	section, err := os.ReadFile(filepath.Join(setup, "hub", "nats-external.toml"))
	if err != nil {
		x.Close()
		return nil, fmt.Errorf("read the hub's [nats.external]: %w", err)
	}
	e.opts.HubConfig += "\n" + string(section)
	if err := os.WriteFile(e.HubConfig, []byte(e.hubConfig()), 0o600); err != nil {
		x.Close()
		return nil, fmt.Errorf("write hub config: %w", err)
	}
	// The admin CLI's defaults: admin creds and CA where it looks in the
	// data dir (it does not fall back to nats.external.ca yet).
	for _, c := range []struct{ from, to string }{
		{filepath.Join(setup, "hub", datadir.AdminCreds), datadir.Dir(e.HubDataDir).AdminCredsFile()},
		{filepath.Join(setup, "hub", datadir.CAFile), datadir.Dir(e.HubDataDir).CAFile()},
	} {
		if err := copyPrivate(c.from, c.to); err != nil {
			x.Close()
			return nil, err
		}
	}
	return x, nil
}

func copyPrivate(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

// Start runs the server (again) and waits until it takes TLS connections
// with the hub's credentials.
func (x *ExternalNATS) Start(ctx context.Context) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.proc != nil && !x.proc.Exited() {
		return errors.New("nats-server already running")
	}
	p, err := StartProcIn(x.dir, x.bin, x.logPath, "-c", x.conf)
	if err != nil {
		return err
	}
	err = Await(ctx, 30*time.Second, func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("nats-server exited: %v\n%s", p.Err(), p.LogTail(30))
		}
		nc, err := x.Connect(filepath.Join(x.SetupDir, "hub", "hub.creds"), nats.NoReconnect())
		if err != nil {
			return false, nil
		}
		nc.Close()
		return true, nil
	})
	if err != nil {
		p.Kill()
		return fmt.Errorf("nats-server not ready: %w\n%s", err, p.LogTail(30))
	}
	x.proc = p
	return nil
}

// Connect connects to the server over TLS with a creds file.
func (x *ExternalNATS) Connect(creds string, opts ...nats.Option) (*nats.Conn, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(x.CAPEM) {
		return nil, errors.New("external nats: no CA certificate")
	}
	base := []nats.Option{nats.UserCredentials(creds), nats.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}), nats.Timeout(5 * time.Second)}
	return nats.Connect(x.URL, append(base, opts...)...)
}

// Proc returns the running server process, or nil.
func (x *ExternalNATS) Proc() *Proc {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.proc
}

// LogTail returns the end of the server's log.
func (x *ExternalNATS) LogTail(n int) string { return tail(x.logPath, n) }

// Kill stops the server with SIGKILL.
func (x *ExternalNATS) Kill() {
	x.mu.Lock()
	p := x.proc
	x.proc = nil
	x.mu.Unlock()
	if p != nil {
		p.Kill()
	}
}

// Close stops the server.
func (x *ExternalNATS) Close() {
	x.mu.Lock()
	p := x.proc
	x.proc = nil
	x.mu.Unlock()
	if p != nil {
		// Stop kills the server if it does not exit in time.
		_ = p.Stop(10 * time.Second)
	}
}
