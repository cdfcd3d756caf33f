package simfleet

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/certfleet/certfleet/agent"
	"github.com/certfleet/certfleet/agent/client"
	"github.com/certfleet/certfleet/shared"
)

// Options configure a Fleet. Zero durations take the real agent's
// defaults.
type Options struct {
	// Dir holds one credentials file per agent (the client re-reads it
	// on every reconnect, as the agent's does).
	Dir string
	// URLs, when set, replace the enrollments' hub URLs.
	URLs []string
	// Logger receives the agents' and their clients' logs; nil discards.
	Logger *slog.Logger
	// Version is what the agents report; default "simfleet".
	Version string
	// RequestOnStart makes every agent with names request its
	// certificate as soon as it runs, as a newly enrolled agent does.
	RequestOnStart bool
	PollInterval   time.Duration
	StatusInterval time.Duration
	RequestTimeout time.Duration
}

// Member is one agent to simulate: its enrollment and the names of its
// certificate (none: it holds none).
type Member struct {
	Enrollment *shared.Enrollment
	Names      []string
}

// Fleet is a set of simulated agents sharing one process.
type Fleet struct {
	opts   Options
	log    *slog.Logger
	agents []*Agent
	// enrollments by agent id: URLs and CA for Start.
	enrollments map[string]*shared.Enrollment

	cancel context.CancelFunc
	done   chan struct{} // closed by Close: posts give up
	wg     sync.WaitGroup
}

// New writes the members' credentials files and prepares their agents;
// nothing connects until Start.
func New(opts Options, members []Member) (*Fleet, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Version == "" {
		opts.Version = "simfleet"
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = agent.DefaultPollInterval
	}
	if opts.StatusInterval <= 0 {
		opts.StatusInterval = agent.DefaultStatusInterval
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = agent.DefaultRequestTimeout
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create fleet dir: %w", err)
	}
	f := &Fleet{opts: opts, log: opts.Logger, done: make(chan struct{})}
	for _, m := range members {
		if err := m.Enrollment.Validate(); err != nil {
			return nil, err
		}
		a := &Agent{ID: m.Enrollment.AgentID, Names: m.Names, fleet: f, events: make(chan func(context.Context), 16)}
		if err := os.WriteFile(f.credsPath(a.ID), []byte(m.Enrollment.Creds), 0o600); err != nil {
			return nil, fmt.Errorf("write credentials of %s: %w", a.ID, err)
		}
		f.agents = append(f.agents, a)
	}
	f.enrollments = make(map[string]*shared.Enrollment, len(members))
	for _, m := range members {
		f.enrollments[m.Enrollment.AgentID] = m.Enrollment
	}
	return f, nil
}

func (f *Fleet) credsPath(id string) string { return filepath.Join(f.opts.Dir, id+".creds") }

// Agents returns the fleet's agents.
func (f *Fleet) Agents() []*Agent { return f.agents }

// Start runs every agent's loop and starts its connection; it returns at
// once (each client keeps trying in the background, as the agent's does).
func (f *Fleet) Start(ctx context.Context) error {
	ctx, f.cancel = context.WithCancel(ctx)
	for _, a := range f.agents {
		e := f.enrollments[a.ID]
		urls := e.URLs
		if len(f.opts.URLs) > 0 {
			urls = f.opts.URLs
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			a.run(ctx)
		}()
		cl, err := client.Connect(client.Options{
			AgentID:   a.ID,
			URLs:      urls,
			CredsFile: f.credsPath(a.ID),
			CAPEM:     []byte(e.CA),
			Handler:   a,
			OnConnect: func() { a.post(a.onConnect) },
			Logger:    f.log.With("agent", a.ID),
		})
		if err != nil {
			return fmt.Errorf("start agent %s: %w", a.ID, err)
		}
		a.cl.Store(cl)
		// A connect that came before the client was stored found no
		// client: look again.
		go a.post(func(context.Context) {})
	}
	return nil
}

// Count returns how many agents satisfy pred.
func (f *Fleet) Count(pred func(*Agent) bool) int {
	n := 0
	for _, a := range f.agents {
		if pred(a) {
			n++
		}
	}
	return n
}

// Await waits until every agent satisfies pred, checking every 50 ms,
// and returns the time it took. On timeout the error says how many did.
func (f *Fleet) Await(ctx context.Context, timeout time.Duration, what string, pred func(*Agent) bool) (time.Duration, error) {
	return AwaitAgents(ctx, f.agents, timeout, what, pred)
}

// AwaitAgents is Await for some of a fleet's agents.
func AwaitAgents(ctx context.Context, agents []*Agent, timeout time.Duration, what string, pred func(*Agent) bool) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		n := 0
		for _, a := range agents {
			if pred(a) {
				n++
			}
		}
		if n == len(agents) {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("%s: %d of %d after %s: %w", what, n, len(agents), time.Since(start).Round(time.Millisecond), ctx.Err())
		case <-t.C:
		}
	}
}

// Latest returns the latest of at(a) over agents: when the last of them
// got there.
func Latest(agents []*Agent, at func(*Agent) time.Time) time.Time {
	var t time.Time
	for _, a := range agents {
		if v := at(a); v.After(t) {
			t = v
		}
	}
	return t
}

// Failures sums the agents' failed requests and returns one last error.
func (f *Fleet) Failures() (int64, string) {
	var n int64
	var last string
	for _, a := range f.agents {
		c, e := a.Failures()
		n += c
		if e != "" {
			last = a.ID + ": " + e
		}
	}
	return n, last
}

// Close stops every agent and closes its connection.
func (f *Fleet) Close() {
	select {
	case <-f.done:
		return
	default:
	}
	close(f.done)
	if f.cancel != nil {
		f.cancel()
	}
	// Each Close may wait for a dial under way: close many at once.
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for _, a := range f.agents {
		cl := a.cl.Load()
		if cl == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			cl.Close()
		}()
	}
	wg.Wait()
	f.wg.Wait()
}
