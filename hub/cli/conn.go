package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/datadir"
	"github.com/certfleet/certfleet/internal/cliusage"
)

// adminFlags gives c and the commands below it the admin connection's
// flags. They also come from the environment, as the nats CLI's do, so an
// operator sets them once per shell.
func (g *globals) adminFlags(c *cobra.Command) {
	f := c.PersistentFlags()
	f.StringVar(&g.natsURL, "nats-url", os.Getenv("NATS_URL"), "hub NATS URL (env NATS_URL; default: from the running hub's run file)")
	f.StringVar(&g.creds, "creds", os.Getenv("CERTFLEET_CREDS"), "admin credentials file (env CERTFLEET_CREDS; default: <data_dir>/nats/admin.creds)")
	f.StringVar(&g.caFile, "ca", os.Getenv("CERTFLEET_CA"), "CA bundle for the hub's NATS TLS (env CERTFLEET_CA; default: <data_dir>/tls/ca.pem)")
	cliusage.MarkFlags(c, true, groupAdmin, "nats-url", "creds", "ca")
}

// adminClient connects to the running hub with the admin credentials;
// extra options (a shorter connect timeout) come last.
func (g *globals) adminClient(extra ...nats.Option) (*admin.Client, func(), error) {
	url, creds, ca := g.natsURL, g.creds, g.caFile
	if url == "" || creds == "" || ca == "" {
		cfg, err := g.loadConfig()
		if err != nil {
			return nil, nil, err
		}
		if url == "" {
			rf, err := datadir.Dir(cfg.DataDir).ReadRunFile()
			if err != nil {
				return nil, nil, fmt.Errorf("find the hub: %w (or pass --nats-url)", err)
			}
			url = rf.NATSURL
		}
		if creds == "" {
			creds = datadir.Dir(cfg.DataDir).AdminCredsFile()
		}
		switch {
		case ca != "":
		case cfg.NATS.External != nil:
			ca = cfg.NATS.External.CA
		case cfg.NATS.TLSCert == "" && !cfg.NATS.AllowPlaintext:
			ca = datadir.Dir(cfg.DataDir).CAFile()
		}
	}
	opts := []nats.Option{nats.Name("certfleet-hub-cli"), nats.UserCredentials(creds), nats.MaxReconnects(0)}
	if ca != "" {
		if _, err := os.Stat(ca); err != nil {
			return nil, nil, fmt.Errorf("read CA bundle: %w", err)
		}
		opts = append(opts, nats.RootCAs(ca))
	}
	opts = append(opts, extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		if errors.Is(err, nats.ErrNoServers) {
			return nil, nil, fmt.Errorf("connect to the hub at %s: %w (is `certfleet-hub run` active?)", url, err)
		}
		return nil, nil, fmt.Errorf("connect to the hub at %s: %w", url, err)
	}
	return &admin.Client{NC: nc}, nc.Close, nil
}

// call connects as admin, sends one request to the hub, and closes.
func (g *globals) call(ctx context.Context, verb string, req, reply any) error {
	c, closeFn, err := g.adminClient()
	if err != nil {
		return err
	}
	defer closeFn()
	return c.Call(ctx, verb, req, reply)
}
