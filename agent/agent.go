// Package agent is the certfleet agent: it keeps each configured
// certificate block issued, installed and fresh. It makes the private key
// on this host, sends a CSR to the hub over NATS, verifies and installs
// what comes back, reloads the services using it (optionally checking
// over TLS that they present it), rolls back when a reload or that check
// fails, and renews before expiry, waking when each renewal or retry is
// due, forever. One goroutine owns all state, so requests, results and
// installs never race.
package agent

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certfleet/certfleet/agent/certstore"
	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/agent/control"
	"github.com/certfleet/certfleet/agent/inventory"
)

// Defaults for Options.
const (
	DefaultPollInterval   = 45 * time.Second
	DefaultStatusInterval = 5 * time.Minute
	DefaultRequestTimeout = 15 * time.Second
	DefaultRetryBase      = time.Minute
	DefaultRetryMax       = time.Hour
	DefaultLostAfter      = 24 * time.Hour
)

// Options tune an Agent. Zero values take the defaults above.
type Options struct {
	Logger *slog.Logger
	// Version is reported to the hub; default is the build's version.
	Version string
	// PollInterval is how often every block is checked whatever is
	// scheduled (jittered by a third either way), and how long a
	// published request waits for its pushed result before it is
	// fetched. Renewals, retries and fetches that are due wake the agent
	// at their time, not at the next poll.
	PollInterval time.Duration
	// StatusInterval is how often a status report is sent even when
	// nothing changed.
	StatusInterval time.Duration
	// RequestTimeout bounds each call to the hub.
	RequestTimeout time.Duration
	// RetryBase is the back-off after the first failure; it doubles per
	// failure up to RetryMax.
	RetryBase time.Duration
	RetryMax  time.Duration
	// LostAfter is how long the hub may answer not_found for a request
	// its stream acknowledged before the agent asks again under a new id.
	// It is long because a request can wait in the hub's queue behind
	// many others, and asking again would add an order.
	LostAfter time.Duration
	// Now is the clock (tests).
	Now func() time.Time
	// InventoryInterval, when set, replaces the [inventory] interval
	// between scans (tests; the configuration bounds it to at least a
	// minute).
	InventoryInterval time.Duration
	// CertStore is the Windows certificate store for blocks with
	// windows_store; nil opens the system's (tests put a double here).
	CertStore certstore.Store
}

func (o *Options) fill() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Version == "" {
		o.Version = Version()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.PollInterval, DefaultPollInterval)
	def(&o.StatusInterval, DefaultStatusInterval)
	def(&o.RequestTimeout, DefaultRequestTimeout)
	def(&o.RetryBase, DefaultRetryBase)
	def(&o.RetryMax, DefaultRetryMax)
	def(&o.LostAfter, DefaultLostAfter)
	if o.Now == nil {
		o.Now = time.Now
	}
}

// errClosed stops a Run that starts after Close; Run reports it as nil.
var errClosed = errors.New("agent closed")

// ErrRunning is returned when Run or RenewOnce is called on an agent
// that is already running.
var ErrRunning = errors.New("agent already running")

// Agent keeps the certificate blocks of one configuration.
type Agent struct {
	cfg    config.Config
	opts   Options
	logger *slog.Logger

	mu      sync.Mutex
	running bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}

	// unmanaged is the latest [inventory] scan, written by its own
	// goroutine and read when a status report is made.
	unmanaged atomic.Pointer[inventory.Result]

	// Owned by the loop goroutine once running.
	*loopState
}

// New checks cfg and returns an Agent for it.
func New(cfg config.Config, opts Options) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts.fill()
	return &Agent{cfg: cfg, opts: opts, logger: opts.Logger}, nil
}

// Run runs the agent until ctx is cancelled or Close is called, and
// returns nil then. It fails at once when the state dir is locked by
// another agent or the agent is not enrolled. Being unable to reach the
// hub, or to open the control socket, is not an error: the agent logs it
// and keeps its certificates up anyway.
func (a *Agent) Run(ctx context.Context) error {
	_, err := a.run(ctx, nil)
	return err
}

// RenewOnce renews cert ("" = every block) now without a daemon: it takes
// the state dir lock, connects, requests, installs, and returns the
// outcomes when every block has one or ctx ends. It does not serve the
// control socket.
func (a *Agent) RenewOnce(ctx context.Context, cert string) ([]control.Outcome, error) {
	return a.run(ctx, &cert)
}

// Close stops a running agent and waits for it to finish. A Run that
// starts after Close returns nil at once.
func (a *Agent) Close() error {
	a.mu.Lock()
	a.closed = true
	cancel, done := a.cancel, a.done
	a.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	return nil
}

func (a *Agent) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running {
		return nil, nil, ErrRunning
	}
	if a.closed {
		return nil, nil, errClosed
	}
	a.running = true
	ctx, a.cancel = context.WithCancel(ctx)
	a.done = make(chan struct{})
	return ctx, a.cancel, nil
}

func (a *Agent) end() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cancel()
	close(a.done)
	a.running = false
	a.cancel = nil
}
