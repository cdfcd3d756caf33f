package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/datadir"
	"github.com/certfleet/certfleet/hub/natsauth"
	"github.com/certfleet/certfleet/internal/cliusage"
)

// Initialized is what `init --json` prints.
type Initialized struct {
	Config string `json:"config"`
	// ConfigWritten is false when an existing config was kept.
	ConfigWritten bool   `json:"config_written"`
	DataDir       string `json:"data_dir"`
	Zone          string `json:"zone"`
	// NATS is "embedded" (keys and TLS material made) or "external" (none
	// made: nats-setup made them).
	NATS string `json:"nats"`
}

func initCmd(g *globals) *cobra.Command {
	var o config.StarterOptions
	var tlsHosts []string
	var force, asJSON bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a starter config and create the data dir, NATS keys and TLS material",
		Long: `init writes a commented starter config (unless one exists) and creates, with
0700/0600 permissions, everything the hub keeps in its data dir: the NATS
operator, accounts and signing keys, the hub/admin/system credentials, and a
CA plus server certificate for the NATS client port. It never overwrites an
existing key, so running it again is safe.`,
		Example: `  certfleet-hub init --domain acme.example.org --public-ip 198.51.100.7 --public-host hub.example.org --email ops@example.org
  certfleet-hub init --config /srv/certfleet/hub.toml --data-dir /srv/certfleet/data --domain acme.example.org --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res := Initialized{Config: g.configPath, NATS: "embedded"}
			cfgExists := false
			if _, err := os.Stat(g.configPath); err == nil {
				cfgExists = true
			} else if !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("stat config: %w", err)
			}
			if !cfgExists || force {
				if o.Domain == "" {
					return cliusage.Usagef(cmd, "--domain is required to write a new config (the zone delegated to the hub, e.g. acme.example.org)")
				}
				text := config.StarterConfig(o)
				starter, err := config.ParseConfig([]byte(text))
				if err == nil {
					err = starter.Validate()
				}
				if err != nil {
					return fmt.Errorf("starter config does not validate: %w", err)
				}
				if err := os.MkdirAll(filepath.Dir(g.configPath), 0o755); err != nil {
					return fmt.Errorf("create config dir: %w", err)
				}
				if err := writeConfig(g.configPath, []byte(text)); err != nil {
					return err
				}
				res.ConfigWritten = true
				if !asJSON {
					fmt.Fprintln(g.out, "wrote", g.configPath)
				}
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return fmt.Errorf("create data dir: %w", err)
			}
			if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
				return fmt.Errorf("chmod data dir: %w", err)
			}
			res.DataDir, res.Zone = cfg.DataDir, cfg.DNS.Domain
			if cfg.NATS.External != nil {
				res.NATS = "external"
			} else {
				if err := natsauth.Init(datadir.Dir(cfg.DataDir).Auth()); err != nil {
					return fmt.Errorf("create nats keys: %w", err)
				}
				if cfg.NATS.TLSCert == "" {
					hosts := append([]string{}, cfg.NATS.TLSHosts...)
					hosts = append(hosts, tlsHosts...)
					if len(hosts) == 0 {
						hosts = append(hosts, cfg.DNS.NSName)
					}
					// The CLI on the hub's own host connects over loopback.
					hosts = append(hosts, "localhost", "127.0.0.1", "::1")
					if err := natsauth.InitTLS(datadir.Dir(cfg.DataDir).TLS(), dedupe(hosts)); err != nil {
						return fmt.Errorf("create nats tls material: %w", err)
					}
				}
			}
			if err := os.MkdirAll(datadir.Dir(cfg.DataDir).ACME(), 0o700); err != nil {
				return fmt.Errorf("create acme dir: %w", err)
			}
			if asJSON {
				return printJSON(g, res)
			}
			fmt.Fprintln(g.out, "data dir ready:", cfg.DataDir)
			fmt.Fprintf(g.out, "next: create the DNS records for %s (see README), then run `certfleet-hub run --config %s`\n", cfg.DNS.Domain, g.configPath)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Domain, "domain", "", "zone delegated to the hub, e.g. acme.example.org")
	f.StringVar(&o.DataDir, "data-dir", "", "data directory (default "+config.DefaultDataDir+")")
	f.StringVar(&o.NSName, "nsname", "", "the hub's name server name (default ns1.<domain>)")
	f.StringVar(&o.NSAdmin, "nsadmin", "", "SOA contact (default hostmaster.<domain>)")
	f.StringVar(&o.PublicHost, "public-host", "", "host name agents connect to (default the nsname)")
	f.StringSliceVar(&o.PublicIPs, "public-ip", nil, "the hub's public IP addresses (glue for the nsname)")
	f.StringVar(&o.Email, "email", "", "ACME account contact e-mail")
	f.StringVar(&o.CAName, "ca-name", "", "name of the CA entry (default "+config.DefaultCAName+")")
	f.StringVar(&o.CADirectory, "ca-directory", "", "ACME directory URL (default Let's Encrypt production)")
	f.StringSliceVar(&tlsHosts, "tls-host", nil, "extra names/IPs for the NATS TLS certificate")
	f.BoolVar(&force, "force", false, "overwrite an existing config file (keys are never overwritten)")
	cliusage.JSONFlag(cmd, &asJSON)
	return cmd
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if s == "" || seen[s] {
			continue
		}
		if ip := net.ParseIP(s); ip != nil {
			s = ip.String()
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}
