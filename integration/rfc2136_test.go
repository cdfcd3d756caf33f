package integration

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/integration/fleet"
)

// nsupdate runs bind9's nsupdate with keyFile ("" = unsigned) and the
// given commands against the hub's DNS.
func nsupdate(t *testing.T, env *fleet.Env, keyFile string, cmds ...string) (string, error) {
	t.Helper()
	host, port, _ := net.SplitHostPort(env.HubRun().DNSUDP)
	script := fmt.Sprintf("server %s %s\n%s\nsend\n", host, port, strings.Join(cmds, "\n"))
	args := []string{}
	if keyFile != "" {
		args = append(args, "-k", keyFile)
	}
	c, cancel := context.WithTimeout(ctx(t), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(c, "nsupdate", args...)
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var secretRe = regexp.MustCompile(`secret "([^"]+)"`)

// TestRFC2136: nsupdate (bind9) and certbot's rfc2136 plugin change
// challenge records on the hub's DNS with a TSIG key from `tsig add`;
// certbot gets a certificate from Pebble that way. Unsigned, wrongly
// signed, out-of-scope and non-TXT updates are refused.
func TestRFC2136(t *testing.T) {
	for _, tool := range []string{"nsupdate", "certbot"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install bind9-dnsutils certbot python3-certbot-dns-rfc2136; .ci/run does): %v", tool, err)
		}
	}
	env := newEnv(t, "")
	c := ctx(t)
	const zone = "dyn.example.test"
	if err := env.AddZone(c, zone); err != nil {
		t.Fatal(err)
	}
	keyText, err := env.Hub(c, "tsig", "add", "certbot-key", "--allow", "www."+zone)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "tsig.key")
	if err := os.WriteFile(keyFile, []byte(keyText), 0o600); err != nil {
		t.Fatal(err)
	}
	name := "_acme-challenge.www." + zone + "."

	if out, err := nsupdate(t, env, keyFile, "zone "+zone, "update add "+name+" 60 TXT \"nsupdate-value\""); err != nil {
		t.Fatalf("nsupdate add: %v\n%s", err, out)
	}
	if got := hubTXT(t, env, name); !slices.Equal(got, []string{"nsupdate-value"}) {
		t.Fatalf("after add: %v", got)
	}
	if out, err := nsupdate(t, env, keyFile, "zone "+zone, "update delete "+name+" TXT \"nsupdate-value\""); err != nil {
		t.Fatalf("nsupdate delete: %v\n%s", err, out)
	}
	if got := hubTXT(t, env, name); len(got) != 0 {
		t.Fatalf("after delete: %v", got)
	}

	badKey := filepath.Join(dir, "bad.key")
	bad := secretRe.ReplaceAllString(keyText, `secret "`+strings.Repeat("A", 43)+`="`)
	if err := os.WriteFile(badKey, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		name, key string
		cmds      []string
		want      string
	}{
		{"unsigned", "", []string{"zone " + zone, "update add " + name + " 60 TXT \"x\""}, "REFUSED"},
		{"wrong secret", badKey, []string{"zone " + zone, "update add " + name + " 60 TXT \"x\""}, ""},
		{"name not allowed", keyFile, []string{"zone " + zone, "update add _acme-challenge.mail." + zone + ". 60 TXT \"x\""}, "REFUSED"},
		{"not a challenge name", keyFile, []string{"zone " + zone, "update add www." + zone + ". 60 TXT \"x\""}, "REFUSED"},
		{"not TXT", keyFile, []string{"zone " + zone, "update add " + name + " 60 CNAME target.example.test."}, "REFUSED"},
		{"zone not served", keyFile, []string{"zone other.test", "update add _acme-challenge.www.other.test. 60 TXT \"x\""}, "NOTAUTH"},
	}
	for _, r := range refused {
		t.Run(r.name, func(t *testing.T) {
			out, err := nsupdate(t, env, r.key, r.cmds...)
			if err == nil || !strings.Contains(out, r.want) {
				t.Fatalf("want failure %q, got %v\n%s", r.want, err, out)
			}
			if got := hubTXT(t, env, name); len(got) != 0 {
				t.Fatalf("refused update changed %s: %v", name, got)
			}
		})
	}

	// certbot with its rfc2136 plugin, as a site runs it today.
	secret := secretRe.FindStringSubmatch(keyText)[1]
	host, port, _ := net.SplitHostPort(env.HubRun().DNSTCP)
	ini := filepath.Join(dir, "rfc2136.ini")
	if err := os.WriteFile(ini, []byte(fmt.Sprintf("dns_rfc2136_server = %s\ndns_rfc2136_port = %s\ndns_rfc2136_name = certbot-key\ndns_rfc2136_secret = %s\ndns_rfc2136_algorithm = HMAC-SHA256\n", host, port, secret)), 0o600); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "pebble-tls.pem")
	if err := env.Pebble.WriteTLSRoot(caFile); err != nil {
		t.Fatal(err)
	}
	cc, cancel := context.WithTimeout(c, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cc, "certbot", "certonly", "--non-interactive", "--agree-tos", "--register-unsafely-without-email",
		"--server", env.Pebble.DirectoryURL(), "--dns-rfc2136", "--dns-rfc2136-credentials", ini, "--dns-rfc2136-propagation-seconds", "1",
		"--config-dir", filepath.Join(dir, "le"), "--work-dir", filepath.Join(dir, "work"), "--logs-dir", filepath.Join(dir, "logs"),
		"--key-type", "ecdsa", "-d", "www."+zone)
	cmd.Env = append(os.Environ(), "REQUESTS_CA_BUNDLE="+caFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "logs", "letsencrypt.log"))
		t.Fatalf("certbot: %v\n%s\n%s", err, out, log)
	}
	pemBytes, err := os.ReadFile(filepath.Join(dir, "le", "live", "www."+zone, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(pemBytes)
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || !slices.Equal(leaf.DNSNames, []string{"www." + zone}) {
		t.Fatalf("certbot's certificate: %v %v", err, leaf.DNSNames)
	}
	// certbot cleaned up after itself through the hub.
	if got := hubTXT(t, env, name); len(got) != 0 {
		t.Fatalf("certbot's record left behind: %v", got)
	}
}
