package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/internal/configfile"
	"github.com/certfleet/certfleet/internal/keytype"
)

const goodTOML = `
state_dir = "@/var/lib/certfleet-agent"
log_level = "debug"

[hub]
enrollment = "@/etc/certfleet-agent/enrollment.json"

[[certificate]]
name = "web"
names = ["WWW.Example.org.", "example.org"]
key_type = "ec384"
profile = "shortlived"
cert = "@/etc/ssl/web/cert.pem"
chain = "@/etc/ssl/web/chain.pem"
fullchain = "@/etc/ssl/web/fullchain.pem"
key = "@/etc/ssl/web/key.pem"
owner = "root"
group = "ssl-cert"
mode = "0640"
cert_mode = 0o644
reload = ["systemctl", "reload", "nginx"]
reload_timeout = "45s"
renew_before = "720h"
check_tls = "127.0.0.1:8443"
check_server_name = "Example.org."

[[certificate]]
name = "mail"
names = ["*.mail.example.org"]
cert = "@/etc/ssl/mail/cert.pem"
key = "@/etc/ssl/mail/key.pem"
reload_shell = "postfix reload && dovecot reload"
check_tls = "[::1]:993"
check_server_name = "imap.mail.example.org"
check_timeout = "1m"

[inventory]
paths = ["@/etc/ssl/private/*.pem", "@/etc/nginx/certs/**"]
max_files = 50
`

func TestParseConfigGood(t *testing.T) {
	cfg, err := parseValid([]byte(osPaths(goodTOML)))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	web := cfg.Certificates[0]
	if got := strings.Join(web.Names, ","); got != "www.example.org,example.org" {
		t.Errorf("names not normalized: %s", got)
	}
	if web.Mode.Mode != 0o640 || web.CertMode.Mode != 0o644 || web.ReloadTimeout.Duration != 45*time.Second ||
		web.RenewBefore.Duration != 720*time.Hour || web.KeyType != keytype.EC384 {
		t.Errorf("web block: %+v", web)
	}
	if web.CheckTLS != "127.0.0.1:8443" || web.CheckName() != "example.org" || web.CheckTimeoutOrDefault() != DefaultCheckTimeout {
		t.Errorf("web check: %q %q %s", web.CheckTLS, web.CheckName(), web.CheckTimeoutOrDefault())
	}
	mail := cfg.Certificates[1]
	if mail.KeyType != DefaultKeyType || mail.Mode.Mode != DefaultKeyMode || mail.CertMode.Mode != DefaultCertMode ||
		mail.ReloadTimeout.Duration != DefaultReloadTimeout {
		t.Errorf("mail defaults: %+v", mail)
	}
	if mail.CheckName() != "imap.mail.example.org" || mail.CheckTimeout.Duration != time.Minute {
		t.Errorf("mail check: %q %s", mail.CheckName(), mail.CheckTimeout.Duration)
	}
	if cfg.EnrollmentPath() != osPaths("@/etc/certfleet-agent/enrollment.json") {
		t.Errorf("enrollment path %s", cfg.EnrollmentPath())
	}
	dirs := cfg.Dirs()
	if len(dirs) != 3 || dirs[0] != cfg.StateDir {
		t.Errorf("dirs %v", dirs)
	}
	inv := cfg.Inventory
	if len(inv.Paths) != 2 || inv.MaxFiles != 50 || inv.Interval.Duration != DefaultInventoryInterval || inv.MaxFileSize != DefaultInventoryMaxFileSize {
		t.Errorf("inventory: %+v", inv)
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg, err := parseValid(nil)
	if err != nil {
		t.Fatalf("empty config: %v", err)
	}
	if cfg.StateDir != DefaultStateDir() || cfg.LogLevel != "info" || len(cfg.Certificates) != 0 {
		t.Errorf("defaults: %+v", cfg)
	}
	if cfg.EnrollmentPath() == "" || cfg.ControlSocket() == "" || cfg.PendingKeyPath("web") == "" {
		t.Error("derived paths empty")
	}
}

// block is a minimal valid certificate block to vary.
const block = `
[[certificate]]
name = "web"
names = ["www.example.org"]
cert = "@/etc/ssl/web/cert.pem"
key = "@/etc/ssl/web/key.pem"
`

var badCases = []struct {
	name string
	toml string
	kind error  // the kind of the (first) problem
	want string // substring naming the field
}{
	{"unknown top key", `stat_dir = "/x"`, configfile.ErrUnknownKey, `stat_dir (line 1): unknown key: did you mean "state_dir"?`},
	{"unknown block key", block + `relaod = ["x"]`, configfile.ErrUnknownKey, `certificate.relaod (line 7): unknown key: did you mean "certificate.reload"?`},
	{"syntax", `state_dir = `, configfile.ErrSyntax, "parse config"},
	{"relative state dir", `state_dir = "var/lib"`, configfile.ErrInvalid, "state_dir:"},
	{"bad log level", `log_level = "loud"`, configfile.ErrInvalid, "log_level:"},
	{"relative enrollment", "[hub]\nenrollment = \"e.json\"", configfile.ErrInvalid, "hub.enrollment:"},
	{"hub url https", "[hub]\nurls = [\"https://relay:443\"]", configfile.ErrInvalid, "hub.urls[0]:"},
	{"hub url path", "[hub]\nurls = [\"tls://relay:4222/x\"]", configfile.ErrInvalid, "hub.urls[0]:"},
	{"hub tls server name", "[hub]\ntls_server_name = \"a b\"", configfile.ErrInvalid, "hub.tls_server_name:"},
	{"hub proxy socks", "[hub]\nproxy_url = \"socks5://p:1080\"", configfile.ErrInvalid, "hub.proxy_url:"},
	{"hub proxy no scheme", "[hub]\nproxy_url = \"p:3128\"", configfile.ErrInvalid, "hub.proxy_url:"},
	{"no names", strings.Replace(block, `names = ["www.example.org"]`, `names = []`, 1), configfile.ErrRequired, "certificate[0].names:"},
	{"ip name", strings.Replace(block, `www.example.org"]`, `192.0.2.1"]`, 1), configfile.ErrInvalid, "certificate[0].names[0]:"},
	{"bad name", strings.Replace(block, `www.example.org"]`, `www.exa_mple.org"]`, 1), configfile.ErrInvalid, "certificate[0].names[0]:"},
	{"duplicate name", strings.Replace(block, `["www.example.org"]`, `["www.example.org", "WWW.example.org"]`, 1), configfile.ErrDuplicate, "certificate[0].names[1]:"},
	{"block name empty", strings.Replace(block, `"web"`, `""`, 1), configfile.ErrRequired, "certificate[0].name: required"},
	{"bad block name", strings.Replace(block, `"web"`, `"../web"`, 1), configfile.ErrInvalid, "certificate[0].name:"},
	{"duplicate block", block + strings.ReplaceAll(block, "/web/", "/web2/"), configfile.ErrDuplicate, "certificate[1].name:"},
	{"duplicate block other case", block + strings.ReplaceAll(strings.Replace(block, `"web"`, `"WEB"`, 1), "/web/", "/web2/"), configfile.ErrDuplicate, "certificate[1].name:"},
	{"key type", block + `key_type = "dsa"`, configfile.ErrInvalid, "certificate[0].key_type:"},
	{"profile", block + `profile = "a b"`, configfile.ErrInvalid, "certificate[0].profile:"},
	{"missing cert", strings.Replace(block, `cert = "@/etc/ssl/web/cert.pem"`, ``, 1), configfile.ErrRequired, "certificate[0].cert: required"},
	{"relative key", strings.Replace(block, `"@/etc/ssl/web/key.pem"`, `"key.pem"`, 1), configfile.ErrInvalid, "certificate[0].key:"},
	{"path twice", block + `chain = "@/etc/ssl/web/cert.pem"`, configfile.ErrDuplicate, "certificate[0].chain:"},
	{"path in state dir", `state_dir = "@/var/lib/cfa"` + "\n" + block + `fullchain = "@/var/lib/cfa/full.pem"`, configfile.ErrInvalid, "certificate[0].fullchain:"},
	{"world readable key", block + `mode = "0644"`, configfile.ErrInvalid, "certificate[0].mode:"},
	{"mode not octal", block + `mode = "0689"`, configfile.ErrInvalid, "mode"},
	{"mode too big", block + `mode = "1777"`, configfile.ErrInvalid, "mode"},
	{"both reloads", block + "reload = [\"a\"]\nreload_shell = \"b\"", configfile.ErrConflict, "certificate[0].reload:"},
	{"empty reload program", block + `reload = [""]`, configfile.ErrRequired, "certificate[0].reload[0]:"},
	{"reload timeout", block + `reload_timeout = "2h"`, configfile.ErrOutOfRange, "certificate[0].reload_timeout:"},
	{"bad duration", block + `reload_timeout = "soon"`, configfile.ErrInvalid, "duration"},
	{"negative renew", block + `renew_before = "-1h"`, configfile.ErrOutOfRange, "certificate[0].renew_before:"},
	{"check without port", block + `check_tls = "127.0.0.1"`, configfile.ErrInvalid, "certificate[0].check_tls:"},
	{"check port zero", block + `check_tls = "127.0.0.1:0"`, configfile.ErrInvalid, "certificate[0].check_tls:"},
	{"check port name", block + `check_tls = "127.0.0.1:https"`, configfile.ErrInvalid, "certificate[0].check_tls:"},
	{"check bad host", block + `check_tls = "web_server:443"`, configfile.ErrInvalid, "certificate[0].check_tls:"},
	{"check empty host", block + `check_tls = ":443"`, configfile.ErrInvalid, "certificate[0].check_tls:"},
	{"check server name alone", block + `check_server_name = "www.example.org"`, configfile.ErrConflict, "certificate[0].check_server_name: set without check_tls"},
	{"check timeout alone", block + `check_timeout = "5s"`, configfile.ErrConflict, "certificate[0].check_timeout: set without check_tls"},
	{"check timeout too long", block + "check_tls = \"127.0.0.1:443\"\ncheck_timeout = \"1h\"", configfile.ErrOutOfRange, "certificate[0].check_timeout:"},
	{"check timeout negative", block + "check_tls = \"127.0.0.1:443\"\ncheck_timeout = \"-1s\"", configfile.ErrOutOfRange, "certificate[0].check_timeout:"},
	{"check wildcard server name", block + "check_tls = \"127.0.0.1:443\"\ncheck_server_name = \"*.example.org\"", configfile.ErrInvalid, "certificate[0].check_server_name:"},
	{"check bad server name", block + "check_tls = \"127.0.0.1:443\"\ncheck_server_name = \"exa mple.org\"", configfile.ErrInvalid, "certificate[0].check_server_name:"},
	{"inventory relative path", "[inventory]\npaths = [\"etc/ssl/*.pem\"]", configfile.ErrInvalid, "inventory.paths[0]:"},
	{"inventory bad glob", "[inventory]\npaths = [\"@/etc/ssl/[a.pem\"]", configfile.ErrInvalid, "inventory.paths[0]:"},
	{"inventory ** inside an element", "[inventory]\npaths = [\"@/etc/ssl/a**/x\"]", configfile.ErrInvalid, "inventory.paths[0]:"},
	{"inventory too many **", "[inventory]\npaths = [\"@/a/**/b/**/c/**/d/**\"]", configfile.ErrInvalid, "inventory.paths[0]:"},
	{"inventory interval too short", "[inventory]\npaths = [\"@/etc/ssl\"]\ninterval = \"10s\"", configfile.ErrOutOfRange, "inventory.interval:"},
	{"inventory negative max_files", "[inventory]\nmax_files = -1", configfile.ErrOutOfRange, "inventory.max_files:"},
	{"inventory huge max_file_size", "[inventory]\nmax_file_size = 1073741824", configfile.ErrOutOfRange, "inventory.max_file_size:"},
	{"inventory unknown key", "[inventory]\npath = [\"@/etc/ssl\"]", configfile.ErrUnknownKey, "inventory.path (line 2): unknown key"},
	{"check only wildcards", strings.Replace(block, `"www.example.org"`, `"*.example.org"`, 1) + `check_tls = "127.0.0.1:443"`, configfile.ErrRequired, "certificate[0].check_server_name: required: every name is a wildcard"},
}

// parseValid is what Load does after reading the file.
func parseValid(data []byte) (Config, error) {
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, err
	}
	return cfg, cfg.Validate()
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range badCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseValid([]byte(osPaths(tc.toml)))
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.toml)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
			fes := configfile.FieldErrors(err)
			if len(fes) == 0 || fes[0].Kind != tc.kind {
				t.Fatalf("error %q: problems %v, want the first of kind %v", err, fes, tc.kind)
			}
		})
	}
}

func TestFileModeString(t *testing.T) {
	if s := (FileMode{Mode: fs.FileMode(0o640)}).String(); s != "0640" {
		t.Errorf("got %s", s)
	}
}

func TestLoadMissing(t *testing.T) {
	if _, err := Load(t.TempDir() + "/nope.toml"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "load config") {
		t.Fatalf("load missing: %v", err)
	}
}

// FuzzParseConfig: any input is parsed or rejected without panicking,
// every problem is a FieldError, and whatever validates holds only
// normalized names and today's key types.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(osPaths(goodTOML)))
	f.Add([]byte(ExampleConfig()))
	f.Add([]byte(osPaths(block)))
	for _, tc := range badCases {
		f.Add([]byte(osPaths(tc.toml)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			if len(configfile.FieldErrors(err)) == 0 && !errors.Is(err, configfile.ErrTooLarge) {
				t.Fatalf("parse error without a FieldError: %v", err)
			}
			return
		}
		for _, w := range cfg.Deprecations() {
			if !errors.Is(w, configfile.ErrDeprecated) {
				t.Fatalf("deprecation %v has kind %v", w, w.Kind)
			}
		}
		if err := cfg.Validate(); err != nil {
			if len(configfile.FieldErrors(err)) == 0 {
				t.Fatalf("Validate error without a FieldError: %v", err)
			}
			return
		}
		for _, b := range cfg.Certificates {
			if !keytype.Valid(b.KeyType) {
				t.Fatalf("key_type %q accepted", b.KeyType)
			}
			for _, n := range b.Names {
				if n != strings.ToLower(n) || strings.HasSuffix(n, ".") {
					t.Fatalf("name %q not normalized", n)
				}
			}
			if b.Mode.Mode&0o007 != 0 {
				t.Fatalf("world-accessible key mode %v accepted", b.Mode)
			}
			if b.CheckTLS != "" && (b.CheckName() == "" || b.CheckTimeoutOrDefault() <= 0) {
				t.Fatalf("check_tls %q accepted without a server name or timeout", b.CheckTLS)
			}
		}
	})
}

func TestExampleParses(t *testing.T) {
	cfg, err := parseValid([]byte(ExampleConfig()))
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if len(cfg.Deprecations()) != 0 {
		t.Errorf("example config uses old spellings: %v", cfg.Deprecations())
	}
	if len(cfg.Certificates) != 1 || cfg.Certificates[0].Name != "web" {
		t.Fatalf("example: %+v", cfg.Certificates)
	}
	// The commented TLS check example is valid once uncommented.
	cfg, err = parseValid([]byte(strings.ReplaceAll(ExampleConfig(), "# check_", "check_")))
	if err != nil {
		t.Fatalf("example with the TLS check: %v", err)
	}
	if b := cfg.Certificates[0]; b.CheckTLS != "127.0.0.1:443" || b.CheckName() != "www.example.org" || b.CheckTimeout.Duration != DefaultCheckTimeout {
		t.Fatalf("example check: %q %q %s", b.CheckTLS, b.CheckName(), b.CheckTimeout.Duration)
	}
}

// osPaths turns "@/a/b" into an absolute path on this platform.
func osPaths(s string) string {
	if runtime.GOOS == "windows" {
		return strings.ReplaceAll(s, "@/", "C:/")
	}
	return strings.ReplaceAll(s, "@/", "/")
}

// TestDeprecatedKeyType: the old spellings are read as today's, with one
// warning per block naming the field and the new spelling.
func TestDeprecatedKeyType(t *testing.T) {
	two := strings.ReplaceAll(block, "/web/", "/web2/")
	two = strings.Replace(two, `"web"`, `"web2"`, 1)
	three := strings.ReplaceAll(block, "/web/", "/web3/")
	three = strings.Replace(three, `"web"`, `"web3"`, 1)
	doc := block + "key_type = \"ecdsa-p256\"\n" + two + "key_type = \"rsa3072\"\n" + three + "key_type = \"ecdsa-p384\"\n"
	cfg, err := parseValid([]byte(osPaths(doc)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range cfg.Certificates {
		got = append(got, b.KeyType)
	}
	if strings.Join(got, ",") != "ec256,rsa3072,ec384" {
		t.Fatalf("key types = %v", got)
	}
	var warnings []string
	for _, w := range cfg.Deprecations() {
		warnings = append(warnings, w.Error())
	}
	want := `certificate[0].key_type: "ecdsa-p256": deprecated: write "ec256" instead` + "\n" +
		`certificate[2].key_type: "ecdsa-p384": deprecated: write "ec384" instead`
	if strings.Join(warnings, "\n") != want {
		t.Fatalf("Deprecations() =\n%s\nwant\n%s", strings.Join(warnings, "\n"), want)
	}
	if d, _ := parseValid([]byte(osPaths(block))); len(d.Deprecations()) != 0 {
		t.Errorf("today's spelling warned: %v", d.Deprecations())
	}
}

// TestPackagedConfig: the config file the .deb and .rpm install loads as
// is, and its commented example block, uncommented, is valid and in
// today's spelling.
func TestPackagedConfig(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the packaged config is for Linux")
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "packaging", "config", "agent.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseValid(data); err != nil {
		t.Fatalf("packaged config: %v", err)
	}
	head, example, ok := strings.Cut(string(data), "\n# [[certificate]]")
	if !ok {
		t.Fatal("no commented [[certificate]] block")
	}
	block := head + "\n" + strings.ReplaceAll("# [[certificate]]"+example, "\n# ", "\n")[2:]
	cfg, err := parseValid([]byte(block))
	if err != nil {
		t.Fatalf("packaged config with its block uncommented: %v\n%s", err, block)
	}
	if len(cfg.Certificates) != 1 || len(cfg.Deprecations()) != 0 {
		t.Fatalf("blocks %d, deprecations %v", len(cfg.Certificates), cfg.Deprecations())
	}
}
