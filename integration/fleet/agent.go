package fleet

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// CertSpec is one [[certificate]] block of an agent.
type CertSpec struct {
	Name    string
	Names   []string
	KeyType string
	Profile string
	// ReloadShell runs after install (sh -c); empty for none.
	ReloadShell string
}

// Agent is an agent of the env with its own directory.
type Agent struct {
	env    *Env
	Name   string
	Dir    string
	Config string
	certs  []CertSpec
	proc   *Proc
	// HubTOML, when set, is written as the config's [hub] table (keys
	// only), e.g. proxy_url or urls; call WriteConfig after setting it.
	HubTOML string
	// ExtraTOML, when set, ends the config (whole tables, such as
	// [inventory]); call WriteConfig after setting it.
	ExtraTOML string
	// Netns, when set, is the network namespace Start runs the agent in
	// (`ip netns exec`).
	Netns string
}

// NewAgent registers an agent at the hub with allow patterns, writes its
// config, and enrolls it. It does not start it.
func (e *Env) NewAgent(ctx context.Context, name string, allow []string, certs ...CertSpec) (*Agent, error) {
	dir := filepath.Join(e.opts.Dir, "agents", name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	enroll := filepath.Join(dir, name+".enroll.json")
	if _, err := e.Hub(ctx, "agent", "add", name, "--allow", strings.Join(allow, ","), "--out", enroll); err != nil {
		return nil, err
	}
	return e.EnrollAgent(ctx, name, enroll, certs...)
}

// EnrollAgent sets up agent name from an enrollment file made elsewhere
// (an older hub, say): config written, `enroll` run, not started.
func (e *Env) EnrollAgent(ctx context.Context, name, enroll string, certs ...CertSpec) (*Agent, error) {
	a := &Agent{env: e, Name: name, Dir: filepath.Join(e.opts.Dir, "agents", name), certs: certs}
	e.hubMu.Lock()
	e.agents = append(e.agents, a)
	e.hubMu.Unlock()
	if err := os.MkdirAll(a.Dir, 0o700); err != nil {
		return nil, err
	}
	a.Config = filepath.Join(a.Dir, "agent.toml")
	if err := a.WriteConfig(certs...); err != nil {
		return nil, err
	}
	if _, err := e.run(ctx, a.bin(), "enroll", enroll, "--config", a.Config); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Agent) bin() string { return filepath.Join(a.env.opts.BinDir, "certfleet-agent") }

// WriteConfig (re)writes the agent's config with certs.
func (a *Agent) WriteConfig(certs ...CertSpec) error {
	a.certs = certs
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir = %q\nlog_level = \"debug\"\n\n", filepath.Join(a.Dir, "state"))
	if a.HubTOML != "" {
		fmt.Fprintf(&b, "[hub]\n%s\n\n", a.HubTOML)
	}
	for _, c := range certs {
		dir := a.CertDir(c.Name)
		// As an operator would: the agent never creates directories.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		fmt.Fprintf(&b, "[[certificate]]\nname = %q\nnames = [", c.Name)
		for i, n := range c.Names {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", n)
		}
		b.WriteString("]\n")
		if c.KeyType != "" {
			fmt.Fprintf(&b, "key_type = %q\n", c.KeyType)
		}
		if c.Profile != "" {
			fmt.Fprintf(&b, "profile = %q\n", c.Profile)
		}
		fmt.Fprintf(&b, "cert = %q\nchain = %q\nfullchain = %q\nkey = %q\n",
			filepath.Join(dir, "cert.pem"), filepath.Join(dir, "chain.pem"), filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "key.pem"))
		if c.ReloadShell != "" {
			fmt.Fprintf(&b, "reload_shell = %q\nreload_timeout = \"20s\"\n", c.ReloadShell)
		}
		b.WriteString("\n")
	}
	b.WriteString(a.ExtraTOML)
	return os.WriteFile(a.Config, []byte(b.String()), 0o600)
}

// CertDir is where the agent installs certificate block name.
func (a *Agent) CertDir(name string) string { return filepath.Join(a.Dir, "certs", name) }

// Start runs the agent as a process.
func (a *Agent) Start() error {
	bin, args := a.bin(), []string{"run", "--config", a.Config}
	if a.Netns != "" {
		// ip execs the agent after entering the namespace: the process
		// (and its pid) is the agent's.
		bin, args = "ip", append([]string{"netns", "exec", a.Netns, bin}, args...)
	}
	p, err := StartProc(bin, filepath.Join(a.Dir, "agent.log"), args...)
	if err != nil {
		return err
	}
	a.proc = p
	return nil
}

// Stop stops the agent with SIGTERM and returns its exit error.
func (a *Agent) Stop() error {
	if a.proc == nil {
		return nil
	}
	p := a.proc
	a.proc = nil
	return p.Stop(20 * time.Second)
}

// Proc returns the running process, or nil.
func (a *Agent) Proc() *Proc { return a.proc }

// CLI runs a certfleet-agent subcommand with the agent's config.
func (a *Agent) CLI(ctx context.Context, args ...string) (string, error) {
	return a.env.run(ctx, a.bin(), append(args, "--config", a.Config)...)
}

// Leaf reads the installed leaf certificate of block name.
func (a *Agent) Leaf(name string) (*x509.Certificate, error) {
	b, err := os.ReadFile(filepath.Join(a.CertDir(name), "cert.pem"))
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("cert.pem of %s holds no PEM", name)
	}
	return x509.ParseCertificate(blk.Bytes)
}

// AwaitCert waits until block name's installed certificate covers exactly
// names, and returns it.
func (a *Agent) AwaitCert(ctx context.Context, name string, names []string, timeout time.Duration) (*x509.Certificate, error) {
	var leaf *x509.Certificate
	want := slices.Clone(names)
	slices.Sort(want)
	err := Await(ctx, timeout, func() (bool, error) {
		if a.proc != nil && a.proc.Exited() {
			return false, fmt.Errorf("agent %s exited: %v\n%s", a.Name, a.proc.Err(), a.proc.LogTail(30))
		}
		l, err := a.Leaf(name)
		if err != nil {
			return false, nil
		}
		got := slices.Clone(l.DNSNames)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return false, nil
		}
		// The agent writes the files one after another: wait until the
		// whole set is the new certificate with its key.
		dir := a.CertDir(name)
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "key.pem"))
		if err != nil || !bytes.Equal(pair.Certificate[0], l.Raw) {
			return false, nil
		}
		if _, err := os.Stat(filepath.Join(dir, "chain.pem")); err != nil {
			return false, nil
		}
		leaf = l
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("agent %s cert %s: %w\nagent log:\n%s", a.Name, name, err, tail(filepath.Join(a.Dir, "agent.log"), 30))
	}
	return leaf, nil
}
