package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/natsauth"
	"github.com/certfleet/certfleet/internal/cliusage"
)

// Layout nats-setup writes under --out.
const (
	setupOperatorDir = "operator"       // natsauth.Init: operator, accounts, keys; stays with the NATS operator
	setupServerDir   = "server"         // for the NATS servers
	setupHubDir      = "hub"            // for the hub host
	setupServerConf  = "certfleet.conf" // nats-server fragment
	setupHubTOML     = "nats-external.toml"
	setupCAFile      = "ca.pem"
)

// NATSSetupDone is what `nats-setup --json` prints: where everything went.
type NATSSetupDone struct {
	Dir          string `json:"dir"`
	OperatorDir  string `json:"operator_dir"`
	ServerConfig string `json:"server_config"`
	HubDir       string `json:"hub_dir"`
	// HubConfig is the hub's [nats.external] section.
	HubConfig   string `json:"hub_config"`
	Credentials string `json:"credentials"`
	SigningKey  string `json:"signing_key"`
	AdminCreds  string `json:"admin_creds"`
	// HubAccount is the hub's account's public key, AgentsAccount the
	// agents' (the hub's nats.external.account).
	HubAccount    string `json:"hub_account"`
	AgentsAccount string `json:"agents_account"`
	// CA is the CA bundle copied for the hub; empty: system roots.
	CA string `json:"ca"`
}

func natsSetupCmd(g *globals) *cobra.Command {
	var out, caFile, resolverDir string
	var urls, tlsHosts []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "nats-setup --out DIR",
		Short: "Create operator-mode NATS material to run the hub on a NATS deployment it does not embed",
		Long: `nats-setup creates, in DIR (0700, files 0600), what a NATS deployment and a hub
need to run certfleet on NATS servers the hub does not embed:

  DIR/operator/   the operator, the system account, the hub's CERTFLEET
                  account (JetStream) and the agents' CERTFLEET_AGENTS account
                  (no JetStream; it imports only the hub's agent subjects)
                  with its scoped signing key, and the hub, admin and system
                  users. Holds the operator and account seeds: keep it with
                  whoever runs the NATS servers, not on the hub.
  DIR/server/certfleet.conf
                  a nats-server config fragment to include from every
                  server's config: operator JWT, system account, a full
                  account resolver (DIR/server/jwt) with the account JWTs
                  preloaded, and TLS when --tls-host is given.
  DIR/hub/        for the hub host: hub.creds, agents-signing.nk (the scoped
                  signing key's seed), admin.creds, ca.pem, and
                  nats-external.toml, the hub's [nats.external] section.

The servers must enable JetStream. Agents connect to the same servers (the
--url values), each confined by the signing key's template to its own
subjects. Running nats-setup again keeps every key and rewrites the other
files; on a DIR from an older certfleet it adds the agents' account (then
update the servers' config and the hub's [nats.external] from the new files).`,
		Example: `  certfleet-hub nats-setup --out /root/certfleet-nats --url tls://nats1.example.org:4222 --url tls://nats2.example.org:4222 \
    --tls-host nats1.example.org --tls-host nats2.example.org
  certfleet-hub nats-setup --out /root/certfleet-nats --url tls://nats.example.org:4222 --ca /etc/nats/ca.pem --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if caFile != "" && len(tlsHosts) > 0 {
				return cliusage.Usagef(cmd, "--ca and --tls-host exclude each other: --tls-host makes a CA, --ca names the one your servers already use")
			}
			if len(urls) == 0 {
				urls = []string{"tls://localhost:4222"}
			}
			for _, u := range urls {
				if err := checkNATSURL(u); err != nil {
					return cliusage.Usagef(cmd, "%v", err)
				}
			}
			abs, err := filepath.Abs(out)
			if err != nil {
				return fmt.Errorf("nats-setup: %w", err)
			}
			if resolverDir == "" {
				resolverDir = filepath.Join(abs, setupServerDir, "jwt")
			}
			s := natsSetup{dir: abs, urls: urls, tlsHosts: tlsHosts, caFile: caFile, resolverDir: resolverDir}
			if err := s.run(); err != nil {
				return fmt.Errorf("nats-setup: %w", err)
			}
			if asJSON {
				return printJSON(g, s.done())
			}
			s.report(g.out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory to write everything into (made 0700)")
	f.StringSliceVar(&urls, "url", nil, "client URL of the NATS servers, for the hub and its agents (repeat; default tls://localhost:4222)")
	f.StringSliceVar(&tlsHosts, "tls-host", nil, "make a private CA and a server certificate for these names/IPs (repeat)")
	f.StringVar(&caFile, "ca", "", "PEM CA bundle your servers' certificates chain to (copied for the hub and agents; default: system roots)")
	f.StringVar(&resolverDir, "resolver-dir", "", "account resolver directory on the NATS servers (default DIR/server/jwt)")
	cliusage.JSONFlag(cmd, &asJSON)
	_ = cmd.MarkFlagRequired("out")
	cmd.AddCommand(natsRevokeCmd(g))
	return cmd
}

// NATSRevoked is what `nats-setup revoke --json` prints.
type NATSRevoked struct {
	Revoked []string `json:"revoked"`
}

func natsRevokeCmd(g *globals) *cobra.Command {
	var out, caFile string
	var urls []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "revoke --out DIR USERKEY...",
		Short: "Revoke agent credentials on the NATS servers at once, with nats-setup's operator keys",
		Long: `On NATS servers the hub does not embed, the hub cannot revoke an agent live:
"agent remove" stops renewing the agent's credentials, which then expire.
Whoever holds nats-setup's DIR/operator/ can cut the agent off at once:
revoke signs the revocation of the agent's user key (the "nkey" that
"certfleet-hub agent list --json" shows) into the account JWT, keeps it in
DIR/operator/account.jwt, and pushes it to the servers as the system user.
Their full resolver stores it, so it outlives restarts. URLs and CA default
to those in DIR/hub/nats-external.toml.`,
		Example: `  certfleet-hub nats-setup revoke --out /root/certfleet-nats UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4
  certfleet-hub nats-setup revoke --out /root/certfleet-nats --json $(certfleet-hub agent list --json | jq -r '.agents[] | select(.id == "web1") | .nkey')`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, keys []string) error {
			for _, k := range keys {
				if !nkeys.IsValidPublicUserKey(k) {
					return cliusage.Usagef(cmd, "%q is not a user public key (the \"nkey\" in `certfleet-hub agent list --json`)", k)
				}
			}
			if len(urls) == 0 || caFile == "" {
				ext, err := readHubTOML(filepath.Join(out, setupHubDir, setupHubTOML))
				if err != nil {
					return fmt.Errorf("nats-setup revoke: %w (or pass --url and --ca)", err)
				}
				if len(urls) == 0 {
					urls = ext.URLs
				}
				if caFile == "" {
					caFile = ext.CA
				}
			}
			auth, err := natsauth.Load(filepath.Join(out, setupOperatorDir))
			if err != nil {
				return fmt.Errorf("nats-setup revoke: %w", err)
			}
			opts := []nats.Option{nats.Name("certfleet-nats-setup"), nats.UserCredentials(auth.SystemCreds()), nats.MaxReconnects(0)}
			if caFile != "" {
				opts = append(opts, nats.RootCAs(caFile))
			}
			nc, err := nats.Connect(strings.Join(urls, ","), opts...)
			if err != nil {
				return fmt.Errorf("nats-setup revoke: connect as the system user: %w", err)
			}
			defer nc.Close()
			var done NATSRevoked
			for _, k := range keys {
				if err := auth.Revoke(nc, k); err != nil {
					if asJSON && len(done.Revoked) > 0 {
						// What was revoked stays revoked: say so.
						_ = printJSON(g, done)
					}
					return fmt.Errorf("nats-setup revoke %s: %w", k, err)
				}
				done.Revoked = append(done.Revoked, k)
				if !asJSON {
					fmt.Fprintf(g.out, "revoked %s: its connections are closed and refused from now on\n", k)
				}
			}
			if asJSON {
				return printJSON(g, done)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "the directory nats-setup wrote")
	f.StringSliceVar(&urls, "url", nil, "client URL of the NATS servers (default: from DIR/hub/nats-external.toml)")
	f.StringVar(&caFile, "ca", "", "PEM CA bundle of the servers' certificates (default: from DIR/hub/nats-external.toml)")
	cliusage.JSONFlag(cmd, &asJSON)
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// readHubTOML reads the [nats.external] section nats-setup wrote.
func readHubTOML(path string) (config.ExternalNATS, error) {
	var doc struct {
		NATS struct {
			External config.ExternalNATS `toml:"external"`
		} `toml:"nats"`
	}
	if _, err := toml.DecodeFile(path, &doc); err != nil {
		return config.ExternalNATS{}, fmt.Errorf("read %s: %w", path, err)
	}
	return doc.NATS.External, nil
}

// natsSetup is one run of nats-setup.
type natsSetup struct {
	dir, caFile, resolverDir string
	urls, tlsHosts           []string

	account string
	files   natsauth.ExternalFiles
	hubCA   string // CA copied for the hub, if any
}

func (s *natsSetup) path(parts ...string) string {
	return filepath.Join(append([]string{s.dir}, parts...)...)
}

func (s *natsSetup) run() error {
	if err := mkdirPrivate(s.dir); err != nil {
		return err
	}
	opDir := s.path(setupOperatorDir)
	if err := natsauth.Init(opDir); err != nil {
		return err
	}
	auth, err := natsauth.Load(opDir)
	if err != nil {
		return err
	}
	s.account = auth.AccountPublicKey()
	if err := mkdirPrivate(s.path(setupServerDir)); err != nil {
		return err
	}
	opts := natsauth.ServerConfigOptions{ResolverDir: s.resolverDir}
	caPEM := []byte(nil)
	if len(s.tlsHosts) > 0 {
		tlsDir := s.path(setupServerDir, "tls")
		if err := natsauth.InitTLS(tlsDir, s.tlsHosts); err != nil {
			return err
		}
		opts.TLSCert = filepath.Join(tlsDir, natsauth.ServerFile)
		opts.TLSKey = filepath.Join(tlsDir, natsauth.ServerKeyFile)
		if caPEM, err = os.ReadFile(filepath.Join(tlsDir, natsauth.CAFile)); err != nil {
			return fmt.Errorf("read the new CA: %w", err)
		}
	} else if s.caFile != "" {
		if caPEM, err = os.ReadFile(s.caFile); err != nil {
			return fmt.Errorf("read --ca: %w", err)
		}
		if !strings.Contains(string(caPEM), "-----BEGIN CERTIFICATE-----") {
			return fmt.Errorf("--ca %s holds no PEM certificate", s.caFile)
		}
	}
	// The resolver directory must exist and be the server's alone.
	if filepath.IsAbs(s.resolverDir) && strings.HasPrefix(s.resolverDir, s.dir+string(filepath.Separator)) {
		if err := mkdirPrivate(s.resolverDir); err != nil {
			return err
		}
	}
	conf, err := auth.ServerConfig(opts)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.path(setupServerDir, setupServerConf), conf, 0o600); err != nil {
		return err
	}
	if s.files, err = auth.ExportExternal(s.path(setupHubDir)); err != nil {
		return err
	}
	if caPEM != nil {
		s.hubCA = s.path(setupHubDir, setupCAFile)
		if err := writeFileAtomic(s.hubCA, caPEM, 0o600); err != nil {
			return err
		}
	}
	return writeFileAtomic(s.path(setupHubDir, setupHubTOML), []byte(s.hubTOML()), 0o600)
}

// hubTOML is the hub's [nats.external] section for the files just written.
func (s *natsSetup) hubTOML() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# [nats.external] for certfleet-hub, written by `certfleet-hub nats-setup`.")
	w("# Add it to the hub's config. The paths are where nats-setup wrote the files:")
	w("# change them if you move the files to the hub host. Agents get these URLs")
	w("# too unless [nats] advertise is set.")
	w("[nats.external]")
	quoted := make([]string, len(s.urls))
	for i, u := range s.urls {
		quoted[i] = tomlQuote(u)
	}
	w("urls = [%s]", strings.Join(quoted, ", "))
	w("credentials = %s   # the hub user", tomlQuote(s.files.Credentials))
	w("signing_key = %s   # seed of the agents account's scoped signing key", tomlQuote(s.files.SigningKey))
	w("account = %s   # the agents' account (not the hub's)", tomlQuote(s.files.Account))
	w("ca = %s   # PEM roots of the servers' certificates; empty = system roots", tomlQuote(s.hubCA))
	return b.String()
}

func (s *natsSetup) done() NATSSetupDone {
	return NATSSetupDone{Dir: s.dir, OperatorDir: s.path(setupOperatorDir), ServerConfig: s.path(setupServerDir, setupServerConf),
		HubDir: s.path(setupHubDir), HubConfig: s.path(setupHubDir, setupHubTOML), Credentials: s.files.Credentials,
		SigningKey: s.files.SigningKey, AdminCreds: s.files.AdminCreds, HubAccount: s.account, AgentsAccount: s.files.Account, CA: s.hubCA}
}

func (s *natsSetup) report(out io.Writer) {
	fmt.Fprintf(out, "NATS material for certfleet written to %s (0700, files 0600):\n", s.dir)
	fmt.Fprintf(out, "  %s/\n      operator and account keys: keep with the NATS servers' operator, not on the hub\n", s.path(setupOperatorDir))
	fmt.Fprintf(out, "  %s\n      include it from every nats-server config (JetStream enabled)\n", s.path(setupServerDir, setupServerConf))
	fmt.Fprintf(out, "  %s/\n      copy to the hub host and add %s to the hub's config\n", s.path(setupHubDir), setupHubTOML)
	fmt.Fprintf(out, "account: %s\n", s.account)
	fmt.Fprintf(out, "admin CLI: certfleet-hub --creds %s", s.files.AdminCreds)
	if s.hubCA != "" {
		fmt.Fprintf(out, " --ca %s", s.hubCA)
	}
	fmt.Fprintln(out, " status")
	fmt.Fprintf(out, "to cut an agent off at once (the hub cannot on these servers): certfleet-hub nats-setup revoke --out %s NKEY\n", s.dir)
}

// checkNATSURL accepts what [nats.external] urls accepts.
func checkNATSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "tls" && u.Scheme != "nats") || u.Hostname() == "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("--url %q: want tls://host:port (or nats://host:port)", raw)
	}
	return nil
}

// tomlQuote writes s as a TOML basic string; JSON's escapes are all valid
// TOML escapes.
func tomlQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("restrict %s: %w", dir, err)
	}
	return nil
}

// writeFileAtomic replaces path with data, never leaving a partial file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Chmod(mode)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}
