// Command certfleet-simfleet load-tests a certfleet hub with simulated
// agents (package integration/simfleet): many in-process agents speaking
// the real protocol with real per-agent credentials.
//
// Without -hub-url it builds its own world on loopback (Pebble, a stand-in
// public resolver, the real certfleet-hub from -bin) and runs the fleet
// benchmark of docs/benchmarks.md, printing the figures as a Markdown
// table; -real N runs N real certfleet-agent processes instead.
//
// With -hub-url, -creds and -ca it enrols -agents simulated agents at a
// running hub through its admin API, connects them, has them obtain
// certificates under -zone (when given), times the fleet status, and with
// -hold keeps them connected until interrupted (restart the hub meanwhile
// to watch them come back). -remove deletes the agents at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/integration/fleet"
	"github.com/certfleet/certfleet/integration/simfleet"
)

type options struct {
	bin, dir                string
	agents, renewals, conc  int
	real                    int
	idle                    time.Duration
	pprof                   string
	noSync, external        bool
	retryAfter              time.Duration
	noCerts                 bool
	verbose                 bool
	hubURL, creds, ca       string
	agentURLs, zone, prefix string
	hubPID                  int
	hold, remove            bool
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin", "directory with certfleet-hub and certfleet-agent (own world)")
	flag.StringVar(&o.dir, "dir", "", "working directory (default: a new temporary one, removed at the end)")
	flag.IntVar(&o.agents, "agents", 1000, "simulated agents")
	flag.IntVar(&o.renewals, "renewals", 0, "certificates renewed at once, and bare lego orders compared (default min(1000, agents))")
	flag.IntVar(&o.conc, "concurrency", 32, "the hub's issuance.concurrency and concurrent bare lego orders")
	flag.IntVar(&o.real, "real", 0, "run this many real certfleet-agent processes instead of simulated agents")
	flag.DurationVar(&o.idle, "idle", 30*time.Second, "how long the idle hub is watched")
	flag.StringVar(&o.pprof, "pprof", "", "serve the hub's runtime profiles here (debug.pprof_listen, e.g. 127.0.0.1:6060)")
	flag.DurationVar(&o.retryAfter, "retry-after", 0, "make the CA send this Retry-After on challenges and processing orders (e.g. 1s)")
	flag.BoolVar(&o.noCerts, "no-certs", false, "only connect the agents and restart the hub (no certificates, status or renewal)")
	flag.BoolVar(&o.external, "external", false, "run the hub on an external nats-server (built from the module) that holds the agents' connections; the restart step kills that server")
	flag.BoolVar(&o.noSync, "no-sync", false, "run the hub with nats.sync_always = false, to see what fsync per write costs")
	flag.BoolVar(&o.verbose, "v", false, "log the agents' and the harness's warnings")
	flag.StringVar(&o.hubURL, "hub-url", "", "a running hub's NATS URL: enrol simulated agents there instead of building a world")
	flag.StringVar(&o.creds, "creds", "", "with -hub-url: the hub's admin credentials file")
	flag.StringVar(&o.ca, "ca", "", "with -hub-url: CA bundle of the hub's NATS certificate (empty: system roots)")
	flag.StringVar(&o.agentURLs, "agent-url", "", "with -hub-url: URLs the agents connect to, comma-separated (default: those in their enrollments)")
	flag.StringVar(&o.zone, "zone", "", "with -hub-url: a zone delegated to the hub; each agent obtains a certificate for <id>.<zone>")
	flag.StringVar(&o.prefix, "prefix", "sim", "with -hub-url: agent ids are <prefix>-00000, <prefix>-00001, ...")
	flag.IntVar(&o.hubPID, "hub-pid", 0, "with -hub-url: the hub's process id, to report its CPU and RSS (same machine)")
	flag.BoolVar(&o.hold, "hold", false, "with -hub-url: keep the agents connected until interrupted, reporting every 10 s")
	flag.BoolVar(&o.remove, "remove", false, "with -hub-url: remove the agents from the hub at the end")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "certfleet-simfleet: unexpected argument %q\n", flag.Arg(0))
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "certfleet-simfleet:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	logger := slog.New(slog.DiscardHandler)
	if o.verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	progress := func(s string) { fmt.Fprintln(os.Stderr, s) }
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "certfleet-simfleet-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if o.hubURL != "" {
		return attach(ctx, o, dir, logger)
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	for _, b := range []string{"certfleet-hub", "certfleet-agent"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return fmt.Errorf("%w (run `make build` first, or pass -bin)", err)
		}
	}
	if o.real > 0 {
		rep, err := simfleet.RunReal(ctx, simfleet.RealConfig{BinDir: bin, Dir: dir, Agents: o.real, Concurrency: o.conc,
			IdleWindow: o.idle, Progress: progress, Logger: logger})
		if err != nil {
			return err
		}
		fmt.Print(rep.Markdown())
		return nil
	}
	var natsServer string
	if o.external {
		// Kept beside the binaries under test: built once.
		progress("building nats-server into " + bin + " (once)")
		if natsServer, err = fleet.BuildNATSServer(ctx, bin); err != nil {
			return err
		}
	}
	rep, err := simfleet.Run(ctx, simfleet.Config{BinDir: bin, Dir: dir, Agents: o.agents, Renewals: o.renewals,
		Concurrency: o.conc, IdleWindow: o.idle, PprofListen: o.pprof, NoSync: o.noSync, RetryAfter: o.retryAfter, NoCerts: o.noCerts,
		NATSServer: natsServer, Progress: progress, Logger: logger})
	// The figures gathered before a failure are figures too.
	fmt.Print(rep.Markdown())
	if err != nil {
		return err
	}
	if rep.Failures > 0 {
		return fmt.Errorf("%d certificate requests failed; last: %s", rep.Failures, rep.LastError)
	}
	return nil
}

// attach runs simulated agents against a hub someone else runs.
func attach(ctx context.Context, o options, dir string, logger *slog.Logger) error {
	if o.creds == "" {
		return errors.New("-hub-url needs -creds (the hub's admin credentials)")
	}
	adm, err := simfleet.DialAdmin(o.hubURL, o.creds, o.ca)
	if err != nil {
		return err
	}
	defer adm.Close()
	ids := make([]string, o.agents)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%05d", o.prefix, i)
	}
	names := func(id string) []string {
		if o.zone == "" {
			// An allow list is required; a name that is never requested.
			return []string{id + ".invalid"}
		}
		return []string{id + "." + strings.TrimSuffix(o.zone, ".")}
	}
	if o.remove {
		defer removeAgents(context.WithoutCancel(ctx), adm, ids)
	}
	t := time.Now()
	enr, err := adm.AddAgents(ctx, ids, names, 16)
	if err != nil {
		return err
	}
	fmt.Printf("enrolled %d agents in %s\n", len(enr), time.Since(t).Round(time.Millisecond))
	members := make([]simfleet.Member, len(enr))
	for i, e := range enr {
		members[i] = simfleet.Member{Enrollment: e}
		if o.zone != "" {
			members[i].Names = names(e.AgentID)
		}
	}
	var urls []string
	if o.agentURLs != "" {
		urls = strings.Split(o.agentURLs, ",")
	}
	f, err := simfleet.New(simfleet.Options{Dir: filepath.Join(dir, "creds"), URLs: urls, Logger: logger}, members)
	if err != nil {
		return err
	}
	defer f.Close()
	t = time.Now()
	if err := f.Start(ctx); err != nil {
		return err
	}
	if _, err := f.Await(ctx, 15*time.Minute, "agents connected and greeted", func(a *simfleet.Agent) bool {
		return a.Connected() && a.GreetedSince(t)
	}); err != nil {
		return err
	}
	fmt.Printf("all connected and greeted in %s\n", simfleet.Latest(f.Agents(), (*simfleet.Agent).GreetedAt).Sub(t).Round(time.Millisecond))
	if o.zone != "" {
		t = time.Now()
		for _, a := range f.Agents() {
			a.Renew()
		}
		if _, err := f.Await(ctx, 3*time.Hour, "agents holding a certificate", (*simfleet.Agent).HasCert); err != nil {
			n, last := f.Failures()
			return fmt.Errorf("%w (failed requests %d, last: %s)", err, n, last)
		}
		fmt.Printf("all hold a certificate after %s\n", simfleet.Latest(f.Agents(), (*simfleet.Agent).CertAt).Sub(t).Round(time.Millisecond))
	}
	if o.hubPID > 0 {
		u, err := simfleet.Measure(ctx, o.hubPID, o.idle)
		if err != nil {
			return err
		}
		fmt.Printf("hub over %s: %.1f%% of one core, peak RSS %d MB\n", u.Window.Round(time.Second), u.CPU, u.RSS>>20)
	}
	t = time.Now()
	if _, err := adm.StatusPage(ctx, "", admin.DefaultStatusLimit); err != nil {
		return err
	}
	first := time.Since(t)
	t = time.Now()
	pages, agents, _, err := adm.StatusWalk(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("status: first page %s; all %d pages (%d agents) %s\n", first.Round(time.Millisecond), pages, agents, time.Since(t).Round(time.Millisecond))
	if !o.hold {
		return nil
	}
	fmt.Println("holding the agents connected; interrupt to stop")
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			fmt.Printf("%s connected %d/%d\n", time.Now().Format(time.TimeOnly), f.Count((*simfleet.Agent).Connected), len(f.Agents()))
		}
	}
}

// removeAgents deletes the agents (revoking their credentials).
func removeAgents(ctx context.Context, adm *simfleet.Admin, ids []string) {
	failed := 0
	for _, id := range ids {
		if err := adm.Call(ctx, admin.VerbAgentRemove, admin.AgentRemoveRequest{Name: id}, nil); err != nil {
			failed++
			if failed <= 3 {
				fmt.Fprintln(os.Stderr, "remove", id+":", err)
			}
		}
	}
	fmt.Printf("removed %d of %d agents\n", len(ids)-failed, len(ids))
}
