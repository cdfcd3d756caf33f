package simfleet

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/integration/fleet"
	"github.com/certfleet/certfleet/integration/pebble"
)

// RealConfig is one run with real certfleet-agent processes.
type RealConfig struct {
	// BinDir holds certfleet-hub and certfleet-agent; Dir receives every
	// file of the run.
	BinDir, Dir string
	// Agents is the number of agent processes, each with one certificate.
	Agents      int
	Concurrency int           // the hub's issuance.concurrency (default 32)
	IdleWindow  time.Duration // default 30 s
	Progress    func(string)
	Logger      *slog.Logger
}

// RealReport holds the figures of a run with real agents. Connected
// means connected in the hub's view (its record of the server's connect
// events, as `certfleet-hub status` shows it).
type RealReport struct {
	Agents int
	// Connect: from starting every agent process at once until the hub
	// shows each connected; Issue: until each has installed its
	// certificate.
	Connect, Issue time.Duration
	// Idle is the hub's; AgentRSS the mean RSS of an agent process.
	Idle     Usage
	AgentRSS int64
	// Status as in Report.
	StatusFirst, StatusWalk, StatusCLI time.Duration
	StatusPages                        int
	// HubStart: SIGKILL to the restarted hub ready; Reconnect: from the
	// SIGKILL until the hub shows every agent connected again.
	HubStart, Reconnect time.Duration
}

// RunReal runs cfg.Agents real agent processes against the real hub and
// measures them like Run does the simulated ones (no renewal comparison:
// that is the hub's work, the same whoever asks).
func RunReal(ctx context.Context, cfg RealConfig) (rep RealReport, err error) {
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
	rep.Agents = cfg.Agents
	env, err := fleet.New(fleet.Options{Dir: cfg.Dir, BinDir: cfg.BinDir, Logger: cfg.Logger,
		Pebble: pebble.Options{NoBadNonces: true}})
	if err != nil {
		return rep, err
	}
	defer env.Close()
	if err := setHubConfig(env, Config{Concurrency: cfg.Concurrency}); err != nil {
		return rep, err
	}
	if err := env.StartHub(ctx); err != nil {
		return rep, err
	}
	if err := env.AddZone(ctx, FleetZone); err != nil {
		return rep, err
	}

	step("registering and enrolling %d agents (agent add, certfleet-agent enroll)", cfg.Agents)
	agents := make([]*fleet.Agent, cfg.Agents)
	if err := parallel(ctx, cfg.Agents, 8, func(i int) error {
		id := fmt.Sprintf("real-%04d", i)
		host := id + "." + FleetZone
		a, err := env.NewAgent(ctx, id, []string{host}, fleet.CertSpec{Name: "tls", Names: []string{host}})
		agents[i] = a
		return err
	}); err != nil {
		return rep, err
	}
	adm, err := DialAdminDataDir(env.HubDataDir)
	if err != nil {
		return rep, err
	}
	defer func() { adm.Close() }()

	step("starting %d agent processes at once", cfg.Agents)
	t := time.Now()
	for _, a := range agents {
		if err := a.Start(); err != nil {
			return rep, err
		}
	}
	last, err := awaitHubConnected(ctx, adm, cfg.Agents, t)
	if err != nil {
		return rep, err
	}
	rep.Connect = last.Sub(t)
	step("hub shows all connected after %s; waiting for every certificate", rep.Connect.Round(time.Millisecond))
	for _, a := range agents {
		if _, err := a.AwaitCert(ctx, "tls", []string{a.Name + "." + FleetZone}, time.Hour); err != nil {
			return rep, err
		}
	}
	rep.Issue = time.Since(t)

	step("all installed after %s; watching the idle hub for %s", rep.Issue.Round(time.Millisecond), cfg.IdleWindow)
	if rep.Idle, err = Measure(ctx, env.HubProc().Pid(), cfg.IdleWindow); err != nil {
		return rep, err
	}
	var sum int64
	for _, a := range agents {
		rss, err := RSS(a.Proc().Pid())
		if err != nil {
			return rep, err
		}
		sum += rss
	}
	rep.AgentRSS = sum / int64(len(agents))

	t = time.Now()
	if _, err := adm.StatusPage(ctx, "", 0); err != nil {
		return rep, err
	}
	rep.StatusFirst = time.Since(t)
	t = time.Now()
	if rep.StatusPages, _, _, err = adm.StatusWalk(ctx); err != nil {
		return rep, err
	}
	rep.StatusWalk = time.Since(t)
	t = time.Now()
	if _, err := env.Hub(ctx, "status"); err != nil {
		return rep, err
	}
	rep.StatusCLI = time.Since(t)

	step("status: first page %s, all %s, CLI %s; killing and restarting the hub",
		rep.StatusFirst.Round(time.Millisecond), rep.StatusWalk.Round(time.Millisecond), rep.StatusCLI.Round(time.Millisecond))
	killed := time.Now()
	env.KillHub()
	if err := env.StartHub(ctx); err != nil {
		return rep, err
	}
	ready := env.HubRun().Started
	rep.HubStart = ready.Sub(killed)
	// The admin connection reconnects by itself.
	if last, err = awaitHubConnected(ctx, adm, cfg.Agents, killed); err != nil {
		return rep, err
	}
	rep.Reconnect = last.Sub(killed)
	step("hub ready %s after the kill; all agents back %s after it", rep.HubStart.Round(time.Millisecond), rep.Reconnect.Round(time.Millisecond))
	for _, a := range agents {
		if a.Proc().Exited() {
			return rep, fmt.Errorf("agent %s exited: %v\n%s", a.Name, a.Proc().Err(), a.Proc().LogTail(20))
		}
	}
	return rep, nil
}

// awaitHubConnected waits until the hub shows n agents connected, each
// seen at or after since, and returns the latest of those times.
func awaitHubConnected(ctx context.Context, adm *Admin, n int, since time.Time) (time.Time, error) {
	var last time.Time
	err := fleet.Await(ctx, 15*time.Minute, func() (bool, error) {
		count := 0
		last = time.Time{}
		after := ""
		for {
			r, err := adm.StatusPage(ctx, after, 0)
			if err != nil {
				// The hub is (re)starting: ask again.
				return false, nil
			}
			for _, s := range r.Status {
				if connectedSince(s, since) {
					count++
					if s.LastSeen.After(last) {
						last = s.LastSeen
					}
				}
			}
			if r.Next == "" {
				break
			}
			after = r.Next
		}
		return count >= n, nil
	})
	if err != nil {
		return last, fmt.Errorf("hub shows fewer than %d agents connected: %w", n, err)
	}
	return last, nil
}

func connectedSince(s hub.AgentStatus, t time.Time) bool {
	return s.Connected && !s.LastSeen.Before(t)
}

// parallel runs f(0..n-1), at most width at once, and returns the first
// error.
func parallel(ctx context.Context, n, width int, f func(int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	next := make(chan int)
	for range width {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	return ctx.Err()
}

// Markdown renders the report as a table.
func (r RealReport) Markdown() string {
	rows := [][2]string{
		{"start every agent process at once, until the hub shows each connected", secs(r.Connect)},
		{"… until each has installed its certificate", secs(r.Issue)},
		{fmt.Sprintf("idle hub, %s window: CPU", secs(r.Idle.Window)), fmt.Sprintf("%.1f%% of one core", r.Idle.CPU)},
		{"idle hub: peak RSS", mb(r.Idle.RSS)},
		{"agent process RSS (mean)", mb(r.AgentRSS)},
		{"status, first page (admin API)", ms(r.StatusFirst)},
		{fmt.Sprintf("status, every page (%d, admin API)", r.StatusPages), ms(r.StatusWalk)},
		{"`certfleet-hub status` (process)", ms(r.StatusCLI)},
		{"hub SIGKILLed → restarted hub ready", secs(r.HubStart)},
		{"hub SIGKILLed → hub shows every agent connected again", secs(r.Reconnect)},
	}
	out := fmt.Sprintf("| %d real agent processes | figure |\n|---|---|\n", r.Agents)
	for _, row := range rows {
		out += "| " + row[0] + " | " + row[1] + " |\n"
	}
	return out
}
