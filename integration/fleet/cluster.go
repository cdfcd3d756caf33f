package fleet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSCluster is a NATS cluster of nats-server processes on loopback, in
// operator mode from `certfleet-hub nats-setup`, with JetStream on every
// node: a stand-in for the cluster an operator runs for several hubs.
type NATSCluster struct {
	// SetupDir is the nats-setup output (operator/, server/, hub/).
	SetupDir string
	// CAPEM is the CA the nodes' certificates chain to.
	CAPEM []byte
	// Nodes are the servers, each with its client URL (Nodes[i].URL).
	Nodes []*ExternalNATS
}

// NewCluster is New for hubs on a NATS cluster of n nodes. It runs
// `certfleet-hub nats-setup` once for all nodes, starts them clustered
// (each its own JetStream store and account resolver directory), waits
// until JetStream has a leader, and gives the hub's config nats-setup's
// [nats.external] section, every node's URL to hand to agents and
// `[nats] replicas` = min(n, 3). Add hubs with StartHub and AddPeer; close
// the Env before the cluster.
func NewCluster(ctx context.Context, opts Options, natsServer string, n int) (*Env, *NATSCluster, error) {
	e, err := New(opts)
	if err != nil {
		return nil, nil, err
	}
	c, err := e.setupCluster(ctx, natsServer, n)
	if err != nil {
		e.Close()
		return nil, nil, err
	}
	return e, c, nil
}

func (e *Env) setupCluster(ctx context.Context, natsServer string, n int) (*NATSCluster, error) {
	setup := filepath.Join(e.opts.Dir, "nats-setup")
	clientPorts, routePorts := make([]int, n), make([]int, n)
	for i := range n {
		var err error
		if clientPorts[i], err = freePort(); err != nil {
			return nil, err
		}
		if routePorts[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	args := []string{"nats-setup", "--out", setup, "--tls-host", "127.0.0.1", "--tls-host", "localhost",
		// Relative: each node keeps its resolver directory in its own
		// working directory, as each would on its own host.
		"--resolver-dir", "jwt"}
	urls := make([]string, n)
	routes := make([]string, n)
	for i := range n {
		urls[i] = fmt.Sprintf("tls://127.0.0.1:%d", clientPorts[i])
		routes[i] = fmt.Sprintf("%q", fmt.Sprintf("nats-route://127.0.0.1:%d", routePorts[i]))
		args = append(args, "--url", urls[i])
	}
	if _, err := e.run(ctx, filepath.Join(e.opts.BinDir, "certfleet-hub"), args...); err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(filepath.Join(setup, "hub", "ca.pem"))
	if err != nil {
		return nil, fmt.Errorf("nats-setup made no CA for the hub: %w", err)
	}
	c := &NATSCluster{SetupDir: setup, CAPEM: ca}
	for i := range n {
		name := fmt.Sprintf("n%d", i+1)
		dir := filepath.Join(e.opts.Dir, "nats", name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		// Each node's own config, as its operator would write it around the
		// fragment nats-setup wrote (next to it, for the include).
		conf := filepath.Join(setup, "server", name+".conf")
		text := fmt.Sprintf(`server_name: %s
host: 127.0.0.1
port: %d
jetstream {
  store_dir: %q
}
cluster {
  name: certfleet
  host: 127.0.0.1
  port: %d
  routes: [%s]
}
include ./certfleet.conf
`, name, clientPorts[i], filepath.Join(dir, "js"), routePorts[i], strings.Join(routes, ", "))
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			return nil, fmt.Errorf("write nats-server config: %w", err)
		}
		c.Nodes = append(c.Nodes, &ExternalNATS{SetupDir: setup, URL: urls[i], CAPEM: ca, Name: name, bin: natsServer,
			conf: conf, logPath: filepath.Join(dir, "nats-server.log"), dir: dir})
	}
	for _, x := range c.Nodes {
		if err := x.Start(ctx); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.AwaitJetStream(ctx, 60*time.Second); err != nil {
		c.Close()
		return nil, err
	}
	section, err := os.ReadFile(filepath.Join(setup, "hub", "nats-external.toml"))
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("read the hub's [nats.external]: %w", err)
	}
	e.hubMu.Lock()
	e.advertise = urls
	e.natsExtra = fmt.Sprintf("replicas = %d", min(n, 3))
	e.opts.HubConfig += "\n" + string(section)
	err = os.WriteFile(e.HubConfig, []byte(e.hubConfig()), 0o600)
	e.hubMu.Unlock()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("write hub config: %w", err)
	}
	return c, nil
}

// HubCreds is the hub user's creds file nats-setup wrote.
func (c *NATSCluster) HubCreds() string { return filepath.Join(c.SetupDir, "hub", "hub.creds") }

// Connect connects to whichever nodes are up, over TLS, with a creds file.
func (c *NATSCluster) Connect(creds string, opts ...nats.Option) (*nats.Conn, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.CAPEM) {
		return nil, errors.New("nats cluster: no CA certificate")
	}
	urls := make([]string, len(c.Nodes))
	for i, x := range c.Nodes {
		urls[i] = x.URL
	}
	base := []nats.Option{nats.UserCredentials(creds), nats.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}), nats.Timeout(5 * time.Second)}
	return nats.Connect(strings.Join(urls, ","), append(base, opts...)...)
}

// AwaitJetStream waits until the cluster's JetStream answers the hub's
// account (it has a meta leader).
func (c *NATSCluster) AwaitJetStream(ctx context.Context, timeout time.Duration) error {
	err := Await(ctx, timeout, func() (bool, error) {
		nc, err := c.Connect(c.HubCreds(), nats.NoReconnect())
		if err != nil {
			return false, nil
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return false, nil
		}
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err = js.AccountInfo(actx)
		return err == nil, nil
	})
	if err != nil {
		var tails []string
		for _, x := range c.Nodes {
			tails = append(tails, x.Name+":\n"+x.LogTail(20))
		}
		return fmt.Errorf("nats cluster: no JetStream: %w\n%s", err, strings.Join(tails, "\n"))
	}
	return nil
}

// Node returns the node named name (server_name), or nil.
func (c *NATSCluster) Node(name string) *ExternalNATS {
	for _, x := range c.Nodes {
		if x.Name == name {
			return x
		}
	}
	return nil
}

// Close stops every node.
func (c *NATSCluster) Close() {
	for _, x := range c.Nodes {
		x.Close()
	}
}
