package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/datadir"
	"github.com/certfleet/certfleet/internal/cliusage"
)

// adminFlags gives c and the commands below it the admin connection's
// flags. They also come from the environment, as the nats CLI's do, so an
// operator sets them once per shell.
func (g *globals) adminFlags(c *cobra.Command) {
	f := c.PersistentFlags()
	f.StringVar(&g.natsURL, "nats-url", os.Getenv("NATS_URL"), "hub NATS URL (env NATS_URL; default: nats.external.urls, else from the running hub's run file)")
	f.StringVar(&g.creds, "creds", os.Getenv("CERTFLEET_CREDS"), "admin credentials file (env CERTFLEET_CREDS; default: <data_dir>/nats/admin.creds, else admin.creds next to nats.external.credentials)")
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
		switch {
		case url != "":
		case cfg.NATS.External != nil:
			// Every server of the deployment: whichever is up, and
			// whichever hub answers (they share one queue group).
			url = strings.Join(cfg.NATS.External.URLs, ",")
		default:
			rf, err := datadir.Dir(cfg.DataDir).ReadRunFile()
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

// defaultAdminCreds is <data_dir>/nats/admin.creds, or with an external
// NATS where that is missing, the admin.creds nats-setup wrote next to the
// hub's credentials.
func defaultAdminCreds(cfg config.Config) string {
	p := datadir.Dir(cfg.DataDir).AdminCredsFile()
	if x := cfg.NATS.External; x != nil && x.Credentials != "" {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			return filepath.Join(filepath.Dir(x.Credentials), datadir.AdminCreds)
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

// adminCaller sends admin requests; *admin.Client is the real one.
type adminCaller interface {
	Call(ctx context.Context, verb string, req, reply any) error
}

// withAdmin connects as admin, runs fn, and closes: one connection for
// every page of a listing. Tests set g.dial to answer without a hub.
func (g *globals) withAdmin(fn func(c adminCaller) error) error {
	dial := g.dial
	if dial == nil {
		dial = func() (adminCaller, func(), error) { return g.adminClient() }
	}
	c, closeFn, err := dial()
	if err != nil {
		return err
	}
	defer closeFn()
	return fn(c)
}

// pageFlags are the paging flags of a listing.
type pageFlags struct {
	limit int
	after string
	all   bool
}

func (p *pageFlags) register(cmd *cobra.Command, what, afterHelp string) {
	cmd.Flags().IntVar(&p.limit, "limit", 0, "at most this many "+what+" per page (default: the hub's page size)")
	cmd.Flags().StringVar(&p.after, "after", "", afterHelp)
	cmd.Flags().BoolVar(&p.all, "all", false, "follow the pages to the end, printing each as it arrives")
}

// follow asks for pages from p.after on: one page, or with --all every
// page until next is empty. fetch gets the cursor and returns the next
// one. Without --all a remaining page is pointed at on standard error, so
// a cut listing never looks complete.
func (p *pageFlags) follow(g *globals, what string, fetch func(after string) (next string, err error)) error {
	after := p.after
	for {
		next, err := fetch(after)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		if !p.all {
			fmt.Fprintf(g.errOut, "more %s follow: add --after %s (or --all for every page)\n", what, safe(next))
			return nil
		}
		after = next
	}
}

// printJSONLine prints v as one line of JSON: --all --json prints one
// page per line (JSON Lines), so a long listing streams.
func printJSONLine(g *globals, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = g.out.Write(append(cliusage.SafeJSON(b), '\n'))
	return err
}
