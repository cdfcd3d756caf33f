// Package config reads and checks the agent's TOML configuration: where
// the agent keeps its state, how it reaches its hub, and the certificate
// blocks it keeps issued, installed and reloaded.
//
// It follows the idiom of internal/configfile, shared with the hub:
// DefaultConfig, ParseConfig (decode over the defaults; unknown keys are
// errors naming key and line; old spellings are rewritten and reported by
// Deprecations), Validate (every problem, each a configfile.FieldError
// naming its field with a kind) and Load (all three).
package config

import (
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/certfleet/certfleet/internal/configfile"
	"github.com/certfleet/certfleet/internal/keytype"
)

// Defaults for certificate blocks.
const (
	// DefaultKeyType is key_type's default; the values are package
	// keytype's (ec256, ec384, rsa2048, rsa3072, rsa4096), the hub's too.
	DefaultKeyType       = keytype.Default
	DefaultKeyMode       = fs.FileMode(0o600)
	DefaultCertMode      = fs.FileMode(0o644)
	DefaultReloadTimeout = 30 * time.Second
)

// Config is the agent configuration.
type Config struct {
	// StateDir holds state.json, the enrollment, NATS credentials, pending
	// keys, the lock file and the control socket.
	StateDir string `toml:"state_dir"`
	// LogLevel is debug, info, warn or error.
	LogLevel     string        `toml:"log_level"`
	Hub          Hub           `toml:"hub"`
	Certificates []Certificate `toml:"certificate"`
	// Inventory says where to look for certificates the agent did not
	// issue (reported to the hub as unmanaged).
	Inventory Inventory `toml:"inventory"`

	// deprecated are the old spellings ParseConfig rewrote.
	deprecated []*configfile.FieldError
}

// Deprecations returns a warning for each old spelling ParseConfig read
// and rewrote (key_type = "ecdsa-p256" is now "ec256"), for the caller to
// log once with configfile.LogDeprecated.
func (c Config) Deprecations() []*configfile.FieldError { return c.deprecated }

// Hub says how to reach the hub.
type Hub struct {
	// Enrollment is the enrollment bundle's path; empty means
	// <state_dir>/enrollment.json.
	Enrollment string `toml:"enrollment"`
	// URLs, when set, replace the enrollment's hub URLs, in order of
	// preference: e.g. a site relay ("tls://relay.site.example:4222").
	URLs []string `toml:"urls"`
	// TLSServerName is the name the hub's certificate is checked against
	// when the URLs name another host (a site relay); default: each
	// URL's host.
	TLSServerName string `toml:"tls_server_name"`
	// ProxyURL is an HTTP proxy the agent reaches the hub through with
	// CONNECT, "http://[user:password@]host:port". Empty: HTTPS_PROXY,
	// HTTP_PROXY and NO_PROXY from the environment.
	ProxyURL string `toml:"proxy_url"`
}

// Certificate is one certificate block: a set of names kept issued and
// installed at the given paths.
type Certificate struct {
	Name  string   `toml:"name"`
	Names []string `toml:"names"`
	// KeyType is the private key made for the block: ec256 (default),
	// ec384, rsa2048, rsa3072 or rsa4096. The old ecdsa-p256 and
	// ecdsa-p384 are read as ec256 and ec384, with a warning.
	KeyType string `toml:"key_type"`
	Profile string `toml:"profile"`
	// Cert receives the leaf only; Chain the intermediates; Fullchain the
	// leaf and intermediates; Key the private key. Chain and Fullchain are
	// optional.
	Cert      string `toml:"cert"`
	Chain     string `toml:"chain"`
	Fullchain string `toml:"fullchain"`
	Key       string `toml:"key"`
	// PFX, when set, also receives the key, leaf and intermediates as
	// PKCS#12 (AES-256, with the key's mode), protected by PFXPassword
	// (empty is allowed: protect the file by its permissions).
	PFX         string `toml:"pfx"`
	PFXPassword string `toml:"pfx_password"`
	// WindowsStore (Windows only), "My" or "WebHosting": also install the
	// certificate and its key into LocalMachine\<store> (intermediates
	// into CA), named FriendlyName (default "certfleet <name>") plus the
	// expiry date, key non-exportable unless KeyExportable. The reload
	// gets CERTFLEET_THUMBPRINT to bind it; once it passed, the replaced
	// certificate is removed from the store.
	WindowsStore  string `toml:"windows_store"`
	FriendlyName  string `toml:"friendly_name"`
	KeyExportable bool   `toml:"key_exportable"`
	// Owner and Group own every file of the block (unix only).
	Owner string `toml:"owner"`
	Group string `toml:"group"`
	// Mode is the key file's mode; CertMode the other files' (unix only).
	Mode     FileMode `toml:"mode"`
	CertMode FileMode `toml:"cert_mode"`
	// Reload is an argv run after installing (no shell); ReloadShell a
	// command line run by the system shell. At most one is set.
	Reload        []string `toml:"reload"`
	ReloadShell   string   `toml:"reload_shell"`
	ReloadTimeout Duration `toml:"reload_timeout"`
	// ReloadService is a service to reload: a systemd unit, run as
	// `systemctl <ReloadAction> <unit>` (action reload, restart or
	// reload-or-restart; default reload), or on Windows a Windows service,
	// restarted (the only action there).
	ReloadService string `toml:"reload_service"`
	ReloadAction  string `toml:"reload_action"`
	// ReloadPIDFile, unix only: send ReloadSignal (default HUP) to the
	// process whose PID the file holds.
	ReloadPIDFile string `toml:"reload_pid_file"`
	ReloadSignal  string `toml:"reload_signal"`
	// ReloadPowerShell, Windows only: a PowerShell command.
	ReloadPowerShell string `toml:"reload_powershell"`
	// RenewBefore, when set, renews this long before expiry instead of
	// following the hub's advice (default: a third of the lifetime left).
	RenewBefore Duration `toml:"renew_before"`
	// CheckTLS, when set ("127.0.0.1:443"), is where the agent checks
	// after install and reload that the service presents the new
	// certificate; if it does not within CheckTimeout, the previous files
	// are put back. CheckServerName is the name asked for (SNI); default
	// the first name that is not a wildcard.
	CheckTLS        string   `toml:"check_tls"`
	CheckServerName string   `toml:"check_server_name"`
	CheckTimeout    Duration `toml:"check_timeout"`
}

// DefaultConfig returns the configuration with every default filled in
// and no certificate blocks.
func DefaultConfig() Config {
	return Config{
		StateDir: DefaultStateDir(),
		LogLevel: "info",
	}
}

// applyDefaults fills the per-block defaults.
func (c *Certificate) applyDefaults() {
	if c.KeyType == "" {
		c.KeyType = DefaultKeyType
	}
	if !c.Mode.Set {
		c.Mode = FileMode{Mode: DefaultKeyMode, Set: true}
	}
	if !c.CertMode.Set {
		c.CertMode = FileMode{Mode: DefaultCertMode, Set: true}
	}
	if c.WindowsStore != "" && c.FriendlyName == "" {
		c.FriendlyName = "certfleet " + c.Name
	}
	if c.ReloadService != "" && c.ReloadAction == "" {
		c.ReloadAction = DefaultReloadAction()
	}
	c.ReloadSignal = strings.TrimPrefix(strings.ToUpper(c.ReloadSignal), "SIG")
	if c.ReloadPIDFile != "" && c.ReloadSignal == "" {
		c.ReloadSignal = "HUP"
	}
	if c.ReloadTimeout.Duration == 0 {
		c.ReloadTimeout.Duration = DefaultReloadTimeout
	}
	if c.CheckTLS != "" && c.CheckTimeout.Duration == 0 {
		c.CheckTimeout.Duration = DefaultCheckTimeout
	}
}

// Block returns the certificate block called name.
func (c Config) Block(name string) (Certificate, bool) {
	for _, b := range c.Certificates {
		if b.Name == name {
			return b, true
		}
	}
	return Certificate{}, false
}

// EnrollmentPath is where the enrollment bundle is read from.
func (c Config) EnrollmentPath() string {
	if c.Hub.Enrollment != "" {
		return c.Hub.Enrollment
	}
	return filepath.Join(c.StateDir, "enrollment.json")
}

// CredsPath is the NATS credentials file (user JWT and nkey seed).
func (c Config) CredsPath() string { return filepath.Join(c.StateDir, "agent.creds") }

// StatePath is the state file.
func (c Config) StatePath() string { return filepath.Join(c.StateDir, "state.json") }

// LockPath is the lock file that keeps two agents off one state dir.
func (c Config) LockPath() string { return filepath.Join(c.StateDir, "agent.lock") }

// ControlSocket is the unix socket a running agent listens on for local
// commands.
func (c Config) ControlSocket() string { return filepath.Join(c.StateDir, "control.sock") }

// PendingKeyPath is where the key of block's pending request is kept
// until its certificate is installed.
func (c Config) PendingKeyPath(block string) string {
	return filepath.Join(c.StateDir, "pending-"+block+".key")
}

// Dirs returns the directories the agent writes to: the state dir and
// every certificate file's directory, without duplicates, in order.
func (c Config) Dirs() []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if p == "" {
			return
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	add(c.StateDir)
	for _, b := range c.Certificates {
		for _, p := range b.Paths() {
			add(filepath.Dir(p))
		}
	}
	return out
}

// Paths returns the block's configured file paths (key, cert, chain,
// fullchain, pfx), skipping unset ones.
func (c Certificate) Paths() []string {
	var out []string
	for _, p := range []string{c.Key, c.Cert, c.Chain, c.Fullchain, c.PFX} {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}
