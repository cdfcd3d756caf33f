// Command certfleet-demo runs certfleet's main job on this machine, on
// loopback only: a hub (embedded NATS, challenge DNS), Pebble as the CA, a
// stand-in public resolver, and two agents as real processes. Each agent
// gets its certificate, installs it, and its reload command makes a local
// HTTPS server serve it; the demo checks that over a TLS handshake, prints
// the fleet status and the files, and exits 0 (1 on any failure).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/certfleet/certfleet/integration/fleet"
	"github.com/certfleet/certfleet/integration/pebble"
)

func main() {
	bin := flag.String("bin", "bin", "directory with certfleet-hub and certfleet-agent")
	dir := flag.String("dir", ".demo", "working directory (emptied first)")
	verbose := flag.Bool("v", false, "log the harness's progress")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *dir, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "demo FAILED:", err)
		os.Exit(1)
	}
}

// site is a local HTTPS server standing in for nginx: it serves the files
// the agent installed and reloads them on SIGHUP, as nginx would.
type site struct {
	name, host        string
	certFile, keyFile string
	addr              string
	mu                sync.RWMutex
	cert              *tls.Certificate
	srv               *http.Server
}

func (s *site) reload() error {
	c, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.cert = &c
	s.mu.Unlock()
	return nil
}

func (s *site) start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.addr = ln.Addr().String()
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintf(w, "hello from %s\n", s.host) }),
		TLSConfig: &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			s.mu.RLock()
			defer s.mu.RUnlock()
			if s.cert == nil {
				return nil, errors.New("no certificate installed yet")
			}
			return s.cert, nil
		}},
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	}
	go func() { _ = s.srv.ServeTLS(ln, "", "") }()
	return nil
}

// handshake connects like a browser would: the CA's root trusted, SNI set.
func (s *site) handshake(roots *x509.CertPool) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", s.addr, &tls.Config{RootCAs: roots, ServerName: s.host})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

func run(ctx context.Context, bin, dir string, verbose bool) error {
	start := time.Now()
	bin, _ = filepath.Abs(bin)
	dir, _ = filepath.Abs(dir)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	logger := slog.New(slog.DiscardHandler)
	if verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	step := func(format string, args ...any) {
		fmt.Printf("[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}

	env, err := fleet.New(fleet.Options{Dir: dir, BinDir: bin, Logger: logger,
		Pebble: pebble.Options{}})
	if err != nil {
		return err
	}
	defer env.Close()
	step("Pebble CA at %s; stand-in public DNS at %s", env.Pebble.DirectoryURL(), env.Resolver.Addr())

	if err := env.StartHub(ctx); err != nil {
		return err
	}
	rf := env.HubRun()
	step("hub running: NATS %s, DNS %s, zone %s (log %s)", rf.NATSURL, rf.DNSUDP, fleet.HubZone, env.HubProc().LogPath())

	rec, err := env.AddDomain(ctx, "www.example.test")
	if err != nil {
		return err
	}
	step("CNAME delegation: %s", rec)
	if err := env.AddZone(ctx, "corp.example.test"); err != nil {
		return err
	}
	step("zone delegation: corp.example.test. NS ns1.%s.", fleet.HubZone)

	// SIGHUP reloads the sites, as `systemctl reload nginx` would.
	hup := make(chan os.Signal, 4)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	specs := []struct{ agent, host string }{{"web", "www.example.test"}, {"db", "db1.corp.example.test"}}
	var sites []*site
	var agents []*fleet.Agent
	for _, sp := range specs {
		a, err := env.NewAgent(ctx, sp.agent, []string{sp.host}, fleet.CertSpec{
			Name: "tls", Names: []string{sp.host}, ReloadShell: fmt.Sprintf("kill -HUP %d", os.Getpid()),
		})
		if err != nil {
			return err
		}
		s := &site{name: sp.agent, host: sp.host, certFile: filepath.Join(a.CertDir("tls"), "fullchain.pem"), keyFile: filepath.Join(a.CertDir("tls"), "key.pem")}
		if err := s.start(); err != nil {
			return err
		}
		defer s.srv.Close()
		sites = append(sites, s)
		agents = append(agents, a)
		step("agent %s enrolled (may request %s); its site waits on https://%s", sp.agent, sp.host, s.addr)
	}
	go func() {
		for range hup {
			for _, s := range sites {
				_ = s.reload() // a site without files yet keeps waiting
			}
		}
	}()
	for _, a := range agents {
		if err := a.Start(); err != nil {
			return err
		}
		defer a.Stop()
	}
	step("agents started; each makes its key, sends a CSR over NATS, and waits")

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(env.Pebble.RootsPEM())
	for i, a := range agents {
		leaf, err := a.AwaitCert(ctx, "tls", []string{specs[i].host}, 90*time.Second)
		if err != nil {
			return err
		}
		step("agent %s installed %s (serial %x, expires %s)", a.Name, specs[i].host, leaf.SerialNumber, leaf.NotAfter.Format(time.DateOnly))
		var served *x509.Certificate
		err = fleet.Await(ctx, 20*time.Second, func() (bool, error) {
			c, err := sites[i].handshake(roots)
			if err != nil {
				return false, nil
			}
			served = c
			return c.SerialNumber.Cmp(leaf.SerialNumber) == 0, nil
		})
		if err != nil {
			return fmt.Errorf("site %s never served the new certificate after reload: %w", specs[i].host, err)
		}
		step("TLS handshake with https://%s as %s: verified to the CA's root, issuer %q", sites[i].addr, specs[i].host, served.Issuer.CommonName)
	}

	// Let the agents' status reports reach the hub before showing the table.
	_ = fleet.Await(ctx, 15*time.Second, func() (bool, error) {
		out, err := env.Hub(ctx, "status")
		return err == nil && countOK(out) >= len(agents), nil
	})
	out, err := env.Hub(ctx, "status")
	if err != nil {
		return err
	}
	fmt.Println("\n$ certfleet-hub status")
	fmt.Print(out)
	fmt.Println("\nFiles:")
	for _, a := range agents {
		fmt.Printf("  %-4s %s/{cert,chain,fullchain,key}.pem   config %s\n", a.Name, a.CertDir("tls"), a.Config)
	}
	fmt.Printf("  hub  config %s, data %s, log %s\n", env.HubConfig, env.HubDataDir, env.HubProc().LogPath())
	fmt.Printf("\nMemory (RSS): hub %s", rss(env.HubProc().Pid()))
	for _, a := range agents {
		fmt.Printf(", agent %s %s", a.Name, rss(a.Proc().Pid()))
	}
	fmt.Println()

	for _, a := range agents {
		if err := a.Stop(); err != nil {
			return fmt.Errorf("agent %s did not stop cleanly: %w", a.Name, err)
		}
	}
	if err := env.StopHub(); err != nil {
		return fmt.Errorf("hub did not stop cleanly: %w", err)
	}
	step("demo OK: 2 agents, 2 certificates issued, installed and served; everything stopped cleanly")
	return nil
}

func countOK(status string) int {
	n := 0
	for _, line := range splitLines(status) {
		if containsAll(line, "tls", "ok") {
			n++
		}
	}
	return n
}
