package fleet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/certfleet/certfleet/hub/datadir"
)

// Peer is one more hub process of the env's deployment: the env's hub
// config (same NATS deployment, zone and CA) with its own data dir and DNS
// port, as an operator starts a second hub on another host. It needs an
// external NATS (NewExternal, NewCluster): hubs share state through it.
type Peer struct {
	e       *Env
	Name    string
	Dir     string
	Config  string
	DataDir string
	// dnsPort is picked once, so the resolver's delegation stays valid
	// across restarts.
	dnsPort int

	mu       sync.Mutex
	proc     *Proc
	run      datadir.RunFile
	initDone bool
}

// AddPeer makes peer hub name (not started) and adds its DNS server to
// the stand-in resolver's delegations, after the env's hub: the resolver
// spreads queries over both, as a public resolver does over a zone's name
// servers, and skips a hub that is down.
func (e *Env) AddPeer(name string) (*Peer, error) {
	port, err := freeDNSPort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.opts.Dir, "peers", name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &Peer{e: e, Name: name, Dir: dir, Config: filepath.Join(dir, "hub.toml"), DataDir: filepath.Join(dir, "data"), dnsPort: port}
	e.hubMu.Lock()
	defer e.hubMu.Unlock()
	e.peers = append(e.peers, p)
	e.forwardLocked()
	return p, nil
}

// DNSAddr is the peer's DNS address (UDP and TCP).
func (p *Peer) DNSAddr() string { return fmt.Sprintf("127.0.0.1:%d", p.dnsPort) }

// LogPath is the peer's log file (kept across restarts).
func (p *Peer) LogPath() string { return filepath.Join(p.Dir, "hub.log") }

// writeConfig derives the peer's config from the env hub's current one:
// another data_dir and DNS listen address, nothing else.
func (p *Peer) writeConfig() error {
	b, err := os.ReadFile(p.e.HubConfig)
	if err != nil {
		return fmt.Errorf("read hub config: %w", err)
	}
	cfg := string(b)
	for _, r := range []struct{ from, to string }{
		{fmt.Sprintf("data_dir = %q", p.e.HubDataDir), fmt.Sprintf("data_dir = %q", p.DataDir)},
		{fmt.Sprintf("listen = \"127.0.0.1:%d\"", p.e.dnsPort), fmt.Sprintf("listen = %q", p.DNSAddr())},
	} {
		if !strings.Contains(cfg, r.from) {
			return fmt.Errorf("peer %s: hub config has no %s line", p.Name, r.from)
		}
		cfg = strings.Replace(cfg, r.from, r.to, 1)
	}
	return os.WriteFile(p.Config, []byte(cfg), 0o600)
}

// Hub runs a certfleet-hub subcommand with the peer's config.
func (p *Peer) Hub(ctx context.Context, args ...string) (string, error) {
	return p.e.run(ctx, filepath.Join(p.e.opts.BinDir, "certfleet-hub"), append([]string{"--config", p.Config}, args...)...)
}

// Start writes the peer's config, runs `init` once (as on a new host),
// then the hub, and waits until it is ready.
func (p *Peer) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.writeConfig(); err != nil {
		return err
	}
	if !p.initDone {
		if _, err := p.Hub(ctx, "init"); err != nil {
			return err
		}
		p.initDone = true
	}
	_ = os.Remove(datadir.Dir(p.DataDir).RunFile())
	proc, err := StartProc(filepath.Join(p.e.opts.BinDir, "certfleet-hub"), p.LogPath(), "run", "--config", p.Config)
	if err != nil {
		return err
	}
	rf, err := awaitRunFile(ctx, p.DataDir, proc)
	if err != nil {
		proc.Kill()
		return err
	}
	p.proc, p.run = proc, rf
	return nil
}

// Run returns the running peer's run file.
func (p *Peer) Run() datadir.RunFile {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.run
}

// Proc returns the peer's process (nil when stopped).
func (p *Peer) Proc() *Proc {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.proc
}

// Kill stops the peer with SIGKILL.
func (p *Peer) Kill() {
	p.mu.Lock()
	proc := p.proc
	p.proc = nil
	p.mu.Unlock()
	if proc != nil {
		proc.Kill()
	}
}

// Stop stops the peer with SIGTERM and returns its exit error.
func (p *Peer) Stop() error {
	p.mu.Lock()
	proc := p.proc
	p.proc = nil
	p.mu.Unlock()
	if proc == nil {
		return nil
	}
	return proc.Stop(30 * time.Second)
}
