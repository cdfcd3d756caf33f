package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/service"
)

// adminClient connects to the running hub with the admin credentials.
func (g *globals) adminClient() (*admin.Client, func(), error) {
	url, creds, ca := g.natsURL, g.creds, g.caFile
	if url == "" || creds == "" || ca == "" {
		cfg, err := g.loadConfig()
		if err != nil {
			return nil, nil, err
		}
		switch {
		case url != "":
		case cfg.NATS.External != nil:
			// Every server of the deployment: whichever is up, and
			// whichever hub answers (they share one queue group).
			url = strings.Join(cfg.NATS.External.URLs, ",")
		default:
			rf, err := service.ReadRunFile(cfg.DataDir)
			if err != nil {
				return nil, nil, fmt.Errorf("find the hub: %w (or pass --nats-url)", err)
			}
			url = rf.NATSURL
		}
		if creds == "" {
			creds = defaultAdminCreds(cfg)
		}
		switch {
		case ca != "":
		case cfg.NATS.External != nil:
			ca = cfg.NATS.External.CA
		case cfg.NATS.TLSCert == "" && !cfg.NATS.AllowPlaintext:
			ca = filepath.Join(service.TLSDir(cfg.DataDir), "ca.pem")
		}
	}
	opts := []nats.Option{nats.Name("certfleet-hub-cli"), nats.UserCredentials(creds), nats.MaxReconnects(0)}
	if ca != "" {
		if _, err := os.Stat(ca); err != nil {
			return nil, nil, fmt.Errorf("read CA bundle: %w", err)
		}
		opts = append(opts, nats.RootCAs(ca))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		if errors.Is(err, nats.ErrNoServers) {
			return nil, nil, fmt.Errorf("connect to the hub at %s: %w (is `certfleet-hub run` active?)", url, err)
		}
		return nil, nil, fmt.Errorf("connect to the hub at %s: %w", url, err)
	}
	return &admin.Client{NC: nc}, nc.Close, nil
}

// defaultAdminCreds is <data_dir>/nats/admin.creds, or with an external
// NATS where that is missing, the admin.creds nats-setup wrote next to the
// hub's credentials.
func defaultAdminCreds(cfg config.Config) string {
	p := filepath.Join(service.AuthDir(cfg.DataDir), "admin.creds")
	if x := cfg.NATS.External; x != nil && x.Credentials != "" {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			return filepath.Join(filepath.Dir(x.Credentials), "admin.creds")
		}
	}
	return p
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
