package simfleet

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/certfleet/certfleet/integration/fleet"
	"github.com/certfleet/certfleet/integration/pebble"
)

// Zones of the benchmark world: the agents' names, delegated to the hub
// by NS, and the bare lego client's names, delegated to its own server.
const (
	FleetZone = "fleet.example.test"
	BareZone  = "lego.example.test"
)

// Config is one run of the fleet benchmark.
type Config struct {
	// BinDir holds certfleet-hub; Dir receives every file of the run.
	BinDir, Dir string
	// Agents is the number of simulated agents, each holding one
	// certificate.
	Agents int
	// Renewals is how many certificates are renewed at once, and how many
	// bare lego orders are compared with them (default min(1000, Agents)).
	Renewals int
	// Concurrency is the hub's issuance.concurrency and the number of
	// concurrent bare lego orders (default 32).
	Concurrency int
	// IdleWindow is how long the idle hub is watched (default 30 s).
	IdleWindow time.Duration
	// PprofListen, when set, is written as the hub's debug.pprof_listen.
	PprofListen string
	// RetryAfter, when set, makes the CA send Retry-After (whole
	// seconds) on challenge responses, pending authorizations and
	// processing orders. The hub waits it out; lego ignores it on a
	// finalized order and on a challenge already valid (see
	// docs/benchmarks.md).
	RetryAfter time.Duration
	// NoCerts skips certificates, status and renewal: connect, then the
	// hub restart (a quick look at connection storms).
	NoCerts bool
	// NoSync sets the hub's nats.sync_always = false (JetStream then
	// flushes to disk in the background instead of on every write), to
	// show what the per-write fsync costs; a production hub keeps it.
	NoSync bool
	// NATSServer, when set, is a nats-server binary (fleet.BuildNATSServer):
	// the hub then runs on that external server, set up with `certfleet-hub
	// nats-setup`, which holds the agents' connections; the restart step
	// kills and restarts that server instead of the hub.
	NATSServer string
	// Progress receives a line per step; nil discards.
	Progress func(string)
	// Logger receives the harness's and the simulated agents' warnings;
	// nil discards.
	Logger *slog.Logger
}

// Report holds the figures of one run.
type Report struct {
	Agents, Renewals, Concurrency int
	// Enroll: agent add of every agent through the admin API.
	Enroll time.Duration
	// Connect: from starting every agent at once until each is connected
	// and its hello answered.
	Connect time.Duration
	// Issue: every agent's first certificate, requested at once.
	Issue time.Duration
	// Idle: the hub with every agent connected, holding its certificate.
	Idle Usage
	// External: the agents were connected to an external nats-server
	// (Config.NATSServer); IdleNATS is that server's Usage while idle and
	// NATSRSSAfterRestart its RSS once every agent is back.
	External            bool
	IdleNATS            Usage
	NATSRSSAfterRestart int64
	// StatusFirst is the first page of the fleet view (200 agents);
	// StatusWalk every page, StatusPages of them, through the admin API;
	// StatusCLI is `certfleet-hub status` (every page, printed) as a process;
	// StatusCLIErr says why it failed (it is cut off after a minute).
	StatusFirst, StatusWalk, StatusCLI time.Duration
	StatusPages                        int
	StatusCLIErr                       string
	// Renew: Renewals agents renew at once, until each holds its new
	// certificate; Bare: as many bare lego orders against the same CA.
	// The percentiles are of single requests, from the agent's request
	// to its verified result, and of single lego orders.
	Renew, Bare                          time.Duration
	RenewP50, RenewP95, BareP50, BareP95 time.Duration
	// HubStart: from SIGKILL of the hub (its new process starts at once)
	// until the restarted hub says it is ready; Reconnect and Regreet:
	// from the SIGKILL until every agent is connected again, and until
	// every agent's hello is answered. (Agents may be back before the hub
	// writes "ready": its NATS server and subscriptions come first.)
	HubStart, Reconnect, Regreet time.Duration
	// ConnectCPU and RestartCPU: CPU time the hub and this harness (the
	// simulated agents' side of every TLS handshake) used while the agents
	// connected, and from the SIGKILL until every agent was greeted again.
	// On a shared machine the wall times above depend on both; the hub's
	// share is what a dedicated hub machine would need.
	ConnectCPU, RestartCPU CPUShare
	// RSSAfterRestart is the hub's RSS once every agent is back.
	RSSAfterRestart int64
	// Failures counts certificate requests that failed (none expected).
	Failures  int64
	LastError string
}

// Run builds the world (Pebble, the stand-in resolver, the real hub
// process), simulates cfg.Agents agents against it and measures them.
func Run(ctx context.Context, cfg Config) (rep Report, err error) {
	if cfg.Renewals <= 0 {
		cfg.Renewals = min(1000, cfg.Agents)
	}
	cfg.Renewals = min(cfg.Renewals, cfg.Agents)
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 32
	}
	if cfg.IdleWindow <= 0 {
		cfg.IdleWindow = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	step := stepper(cfg.Progress)
	rep = Report{Agents: cfg.Agents, Renewals: cfg.Renewals, Concurrency: cfg.Concurrency, External: cfg.NATSServer != ""}

	opts := fleet.Options{Dir: cfg.Dir, BinDir: cfg.BinDir, Logger: cfg.Logger,
		// Pebble as shipped (no Retry-After: the hub and lego each poll
		// on their own schedule), but without its 5% of refused good
		// nonces, which only add retries to both. With Retry-After the
		// hub waits it out on processing orders while lego polls a
		// finalized order at once: a politeness gap, not overhead.
		Pebble: pebble.Options{NoBadNonces: true, ChallengeRetryAfter: cfg.RetryAfter}}
	var (
		env *fleet.Env
		ext *fleet.ExternalNATS
	)
	if cfg.NATSServer != "" {
		env, ext, err = fleet.NewExternal(ctx, opts, cfg.NATSServer)
		if err != nil {
			return rep, err
		}
		// The Env closes before the server it uses.
		defer ext.Close()
	} else if env, err = fleet.New(opts); err != nil {
		return rep, err
	}
	defer env.Close()
	if err := setHubConfig(env, cfg); err != nil {
		return rep, err
	}
	if err := env.StartHub(ctx); err != nil {
		return rep, err
	}
	if err := env.AddZone(ctx, FleetZone); err != nil {
		return rep, err
	}
	adm, err := DialAdminDataDir(env.HubDataDir)
	if err != nil {
		return rep, err
	}
	defer func() { adm.Close() }()

	step("enrolling %d agents through the admin API", cfg.Agents)
	ids, names := make([]string, cfg.Agents), map[string][]string{}
	for i := range ids {
		ids[i] = fmt.Sprintf("sim-%05d", i)
		names[ids[i]] = []string{ids[i] + "." + FleetZone}
	}
	t := time.Now()
	enr, err := adm.AddAgents(ctx, ids, func(id string) []string { return names[id] }, 16)
	if err != nil {
		return rep, err
	}
	rep.Enroll = time.Since(t)
	members := make([]Member, len(enr))
	for i, e := range enr {
		members[i] = Member{Enrollment: e, Names: names[e.AgentID]}
	}
	f, err := New(Options{Dir: filepath.Join(cfg.Dir, "simfleet"), Logger: cfg.Logger}, members)
	if err != nil {
		return rep, err
	}
	defer f.Close()

	step("enrolled in %s; connecting all agents at once", rep.Enroll.Round(time.Millisecond))
	t = time.Now()
	hubCPU, selfCPU := markCPU(env.HubProc().Pid()), markCPU(os.Getpid())
	var natsCPU cpuMark
	if ext != nil {
		natsCPU = markCPU(ext.Proc().Pid())
	}
	if err := f.Start(ctx); err != nil {
		return rep, err
	}
	if _, err = f.Await(ctx, 15*time.Minute, "agents connected and greeted", func(a *Agent) bool {
		return a.Connected() && a.GreetedSince(t)
	}); err != nil {
		return rep, err
	}
	rep.Connect = Latest(f.Agents(), (*Agent).GreetedAt).Sub(t)
	rep.ConnectCPU = CPUShare{Hub: hubCPU.used(), Harness: selfCPU.used()}
	if ext != nil {
		rep.ConnectCPU.NATS = natsCPU.used()
	}

	if cfg.NoCerts {
		step("connected in %s; killing and restarting the %s", rep.Connect.Round(time.Millisecond), restarted(ext))
		return rep, restart(ctx, env, ext, f, &rep, step)
	}
	step("connected in %s; every agent requests its certificate", rep.Connect.Round(time.Millisecond))
	t = time.Now()
	for _, a := range f.Agents() {
		a.Renew()
	}
	if _, err = f.Await(ctx, 3*time.Hour, "agents holding a certificate", func(a *Agent) bool { return a.HasCert() }); err != nil {
		rep.Failures, rep.LastError = f.Failures()
		return rep, fmt.Errorf("%w (failures %d, last: %s)", err, rep.Failures, rep.LastError)
	}
	rep.Issue = Latest(f.Agents(), (*Agent).CertAt).Sub(t)
	// Idle means every agent has also told the hub what it holds.
	if _, err := f.Await(ctx, 10*time.Minute, "status reported", func(a *Agent) bool {
		return a.ReportedSince(time.Unix(0, a.certAt.Load()))
	}); err != nil {
		return rep, err
	}

	step("%d certificates issued in %s; watching the idle hub for %s", cfg.Agents, rep.Issue.Round(time.Millisecond), cfg.IdleWindow)
	hubPID := env.HubProc().Pid()
	if ext != nil {
		// Both at once: the same idle window.
		natsIdle := make(chan error, 1)
		go func() {
			var err error
			rep.IdleNATS, err = Measure(ctx, ext.Proc().Pid(), cfg.IdleWindow)
			natsIdle <- err
		}()
		defer func() {
			if e := <-natsIdle; e != nil && err == nil {
				err = e
			}
		}()
	}
	if rep.Idle, err = Measure(ctx, hubPID, cfg.IdleWindow); err != nil {
		return rep, err
	}

	step("idle hub: %.1f%% CPU, %d MB RSS; fleet status", rep.Idle.CPU, rep.Idle.RSS>>20)
	t = time.Now()
	if _, err := adm.StatusPage(ctx, "", 0); err != nil {
		return rep, fmt.Errorf("status first page: %w", err)
	}
	rep.StatusFirst = time.Since(t)
	t = time.Now()
	pages, agents, _, err := adm.StatusWalk(ctx)
	if err != nil {
		return rep, fmt.Errorf("status walk: %w", err)
	}
	rep.StatusWalk, rep.StatusPages = time.Since(t), pages
	if agents != cfg.Agents {
		return rep, fmt.Errorf("status walk listed %d agents, want %d", agents, cfg.Agents)
	}
	t = time.Now()
	if _, err := env.Hub(ctx, "status"); err != nil {
		// A figure too: the CLI gives up on a slow fleet view.
		rep.StatusCLIErr = firstLine(err.Error())
	}
	rep.StatusCLI = time.Since(t)

	step("status: first page %s, %d pages %s, CLI %s; renewing %d certificates at once",
		rep.StatusFirst.Round(time.Millisecond), pages, rep.StatusWalk.Round(time.Millisecond), rep.StatusCLI.Round(time.Millisecond), cfg.Renewals)
	renewing := f.Agents()[:cfg.Renewals]
	t = time.Now()
	for _, a := range renewing {
		a.Renew()
	}
	if _, err = AwaitAgents(ctx, renewing, time.Hour, "renewed certificates", func(a *Agent) bool { return a.CertSince(t) }); err != nil {
		return rep, err
	}
	rep.Renew = Latest(renewing, (*Agent).CertAt).Sub(t)
	took := make([]time.Duration, len(renewing))
	for i, a := range renewing {
		took[i] = a.Took()
	}
	rep.RenewP50, rep.RenewP95 = percentile(took, 50), percentile(took, 95)

	step("renewed in %s; %d bare lego orders, %d at a time", rep.Renew.Round(time.Millisecond), cfg.Renewals, cfg.Concurrency)
	if rep.Bare, took, err = runBare(ctx, env, cfg); err != nil {
		return rep, err
	}
	rep.BareP50, rep.BareP95 = percentile(took, 50), percentile(took, 95)

	step("bare lego in %s; killing and restarting the %s", rep.Bare.Round(time.Millisecond), restarted(ext))
	if err := restart(ctx, env, ext, f, &rep, step); err != nil {
		return rep, err
	}
	rep.Failures, rep.LastError = f.Failures()
	return rep, nil
}

// restart kills the hub (or, with an external NATS server, that server,
// which holds the agents' connections), starts it again and waits until
// every agent is back (connected, hello answered).
func restart(ctx context.Context, env *fleet.Env, ext *fleet.ExternalNATS, f *Fleet, rep *Report, step func(string, ...any)) error {
	killed := time.Now()
	self := markCPU(os.Getpid())
	var hub cpuMark
	if ext != nil {
		hub = markCPU(env.HubProc().Pid())
		ext.Kill()
		if err := ext.Start(ctx); err != nil {
			return fmt.Errorf("restart nats-server: %w", err)
		}
		rep.HubStart = time.Since(killed)
	} else {
		env.KillHub()
		if err := env.StartHub(ctx); err != nil {
			return fmt.Errorf("restart hub: %w", err)
		}
		// The new hub's CPU counts from its start, within the window.
		hub = cpuMark{pid: env.HubProc().Pid()}
		// The hub writes its run file once it serves agents; agents may be
		// back before the harness reads it.
		rep.HubStart = env.HubRun().Started.Sub(killed)
	}
	if _, err := f.Await(ctx, 10*time.Minute, "agents reconnected and greeted after restart", func(a *Agent) bool {
		return a.ConnectedSince(killed) && a.GreetedSince(killed)
	}); err != nil {
		return err
	}
	rep.Reconnect = Latest(f.Agents(), (*Agent).ConnectedAt).Sub(killed)
	rep.Regreet = Latest(f.Agents(), (*Agent).GreetedAt).Sub(killed)
	rep.RestartCPU = CPUShare{Hub: hub.used(), Harness: self.used()}
	if ext != nil {
		// The new server's CPU counts from its start, within the window.
		rep.RestartCPU.NATS = cpuMark{pid: ext.Proc().Pid()}.used()
	}
	var err error
	if rep.RSSAfterRestart, err = RSS(env.HubProc().Pid()); err != nil {
		return err
	}
	what := restarted(ext)
	if ext != nil {
		if rep.NATSRSSAfterRestart, err = RSS(ext.Proc().Pid()); err != nil {
			return err
		}
	}
	step("%s ready %s after the kill; all agents reconnected %s after it, all greeted %s after it", what,
		rep.HubStart.Round(time.Millisecond), rep.Reconnect.Round(time.Millisecond), rep.Regreet.Round(time.Millisecond))
	return nil
}

// restarted names what the restart step kills.
func restarted(ext *fleet.ExternalNATS) string {
	if ext != nil {
		return "nats-server"
	}
	return "hub"
}

// setHubConfig tunes the generated hub config for a fleet: info logging
// (debug logs a line per agent message) and the issuance concurrency.
func setHubConfig(env *fleet.Env, cfg Config) error {
	if err := env.SetHubConfigLine("log_level", `"info"`); err != nil {
		return err
	}
	if err := env.SetHubConfigLine("concurrency", fmt.Sprint(cfg.Concurrency)); err != nil {
		return err
	}
	if cfg.NoSync {
		if err := env.EditHubConfig(func(s string) (string, error) {
			return strings.Replace(s, "\n[nats]\n", "\n[nats]\nsync_always = false\n", 1), nil
		}); err != nil {
			return err
		}
	}
	if cfg.PprofListen != "" {
		return env.EditHubConfig(func(s string) (string, error) {
			return s + fmt.Sprintf("\n[debug]\npprof_listen = %q\n", cfg.PprofListen), nil
		})
	}
	return nil
}

// runBare orders cfg.Renewals certificates with a bare lego client
// against the env's CA, cfg.Concurrency at a time.
func runBare(ctx context.Context, env *fleet.Env, cfg Config) (time.Duration, []time.Duration, error) {
	b, err := NewBare(ctx, BareConfig{DirectoryURL: env.Pebble.DirectoryURL(), Roots: env.Pebble.TLSRootPEM(),
		Zone: BareZone, Resolver: env.Resolver.Addr(), Logger: cfg.Logger})
	if err != nil {
		return 0, nil, err
	}
	defer b.Close()
	env.Resolver.SetForward(BareZone, b.DNSAddr())
	names := make([]string, cfg.Renewals)
	for i := range names {
		names[i] = fmt.Sprintf("lego-%05d.%s", i, BareZone)
	}
	return b.Obtain(ctx, names, cfg.Concurrency)
}

// percentile returns the p-th percentile of ds (nearest rank).
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)*p+99)/100-1)]
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
