package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/delegation"
	"github.com/certfleet/certfleet/hub/dnsserver"
	"github.com/certfleet/certfleet/hub/fleet"
	"github.com/certfleet/certfleet/hub/issuer"
	"github.com/certfleet/certfleet/hub/metrics"
	"github.com/certfleet/certfleet/hub/natsauth"
	"github.com/certfleet/certfleet/hub/natsserver"
	"github.com/certfleet/certfleet/hub/pace"
	"github.com/certfleet/certfleet/hub/store"
)

// requestAckWait bounds how long a request taken by a hub that then died
// (SIGKILL, power loss) waits before the queue hands it out again: the
// restarted hub resumes it then; another hub first watches the request's
// heartbeat for two more thirds of it (claim.go), so takeover by another
// hub takes requestAckWait to 5/3 of it (15 to 25 s).
const requestAckWait = 15 * time.Second

// Hub is the running hub.
type Hub struct {
	cfg     config.Config
	log     *slog.Logger
	version string
	// id names this hub among the hubs sharing the store (hubid.go).
	id string
	// handling are the requests this hub works on now.
	handling handling
	// lead says whether this hub holds the housekeeping lease, last
	// confirmed at leaseOK (leader.go).
	lead    leadership
	leaseOK time.Time
	// started is when this hub started, for the other hubs (peers.go).
	started time.Time
	// connEvents signals NATS disconnects and reconnects (dnsfresh.go).
	connEvents chan struct{}
	// peerTasks answer other hubs' questions (peers.go).
	peerTasks tasks

	auth    *natsauth.Authority
	ns      *natsserver.Server // nil with an external NATS
	nc      *nats.Conn         // hub user
	sysnc   *nats.Conn         // system account, for pushing revocations
	caPEM   []byte             // CA that the NATS client port chains to, for enrollment bundles
	store   *store.Store
	dns     *dnsserver.Server
	checker *delegation.Checker

	issMu sync.Mutex
	iss   map[string]*issuer.Issuer // by [[ca]] name, created on first use

	// inflight counts orders per agent, so one agent's burst cannot take
	// every order slot (fairness across the fleet).
	inflightMu sync.Mutex
	inflight   map[string]int

	// Issuance pace (pacer.go, waiting.go): the adaptive limit on orders
	// in flight, the CA budgets, this hub's view of the waiting requests,
	// and this hub's id in claims on them.
	limiter  *pace.Limiter
	budgets  *pace.Budgets
	waiting  *waitIndex
	instance string

	watches []*store.Watch
	acmedns *acmednsServer // nil unless [acmedns] is enabled

	// fleet is this hub's view of the fleet, kept current by fleetFeed
	// from the store's watches; every listing reads it. statusW buffers
	// the agents' status writes (statuswriter.go).
	fleet     *fleet.Snapshot
	fleetFeed *fleet.Feed
	statusW   *statusWriter

	// Agent intake: the subscriptions (agent and admin), the workers that
	// run admitted agent requests, per-agent budgets and drop counters.
	subs     []*nats.Subscription
	workers  *workers
	msgLimit *agentLimiter
	reqLimit *agentLimiter
	drops    *drops
	acks     ackWaiters
	presence presence
	// flood limits what one agent can make the hub log and audit.
	flood *floodLimits

	// metrics is the Prometheus registry; metricsSrv serves it on
	// metrics.listen (nil when off).
	metrics     *metrics.Metrics
	metricsSrv  *http.Server
	metricsAddr string

	// webSrv serves the dashboard at webURL (web.go; nil when off).
	webSrv *http.Server
	webURL string
	// webCert is the dashboard's certificate with web.tls = "self".
	webCert *selfCert

	// pprofSrv serves runtime profiles at pprofURL (pprof.go; nil when off).
	pprofSrv *http.Server
	pprofURL string

	// alarmChans are the [[alarm]] channels (alarms.go).
	alarmChans []alarmChannel

	wg    sync.WaitGroup
	ready chan struct{}
}

// New prepares a hub from a validated config. Nothing is started until Run.
func New(cfg config.Config, logger *slog.Logger, version string) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	fl := &floodLimits{audit: newFloodGate(floodEvery, floodBurst, nil),
		log: newFloodHandler(logger.Handler(), newFloodGate(floodEvery, floodBurst, nil))}
	logger = slog.New(fl.log)
	h := &Hub{cfg: cfg, log: logger, flood: fl, version: version, ready: make(chan struct{}), inflight: map[string]int{}, connEvents: make(chan struct{}, 1),
		checker:  &delegation.Checker{Resolvers: cfg.Issuance.Resolvers},
		msgLimit: newAgentLimiter(agentMsgRate, agentMsgBurst),
		reqLimit: newAgentLimiter(agentReqRate, agentReqBurst),
		drops:    newDrops(logger.With("component", "agents")),
	}
	h.metrics = metrics.New(h.fleetSnapshot, logger.With("component", "metrics"))
	return h, nil
}

// Ready is closed once the hub serves DNS, agents and the admin API.
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// Run starts everything and blocks until ctx is cancelled, then stops in
// order: no new work, in-flight orders finished or handed back, DNS, NATS.
// It returns nil on a clean stop.
func (h *Hub) Run(ctx context.Context) (err error) {
	defer h.shutdown()
	// Before NATS closes, after the intake stopped: the buffered agent
	// statuses are written.
	defer h.closeStatus()
	if err := h.start(ctx); err != nil {
		h.stopIntake()
		return err
	}
	if err := h.setupAlarms(); err != nil {
		h.stopIntake()
		return err
	}
	if err := h.startMetrics(); err != nil {
		h.stopIntake()
		return err
	}
	if err := h.startWeb(ctx); err != nil {
		h.stopIntake()
		return err
	}
	if err := h.startPprof(); err != nil {
		h.stopIntake()
		return err
	}
	if err := h.writeRunFile(); err != nil {
		return err
	}
	defer func() {
		if err := h.dir().RemoveRunFile(); err != nil {
			h.log.Warn("remove run file", "err", err)
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	const components = 8
	errc := make(chan error, components)
	// Decided before housekeeping's first round, so a lone hub renews
	// credentials at once.
	h.announce(ctx)
	h.tryLead(ctx)
	h.wg.Add(components)
	go func() { defer h.wg.Done(); errc <- h.keepLease(ctx) }()
	go func() { defer h.wg.Done(); errc <- h.keepDNSFresh(ctx) }()
	go func() { defer h.wg.Done(); errc <- h.syncDNS(ctx) }()
	go func() { defer h.wg.Done(); errc <- h.fleetFeed.Run(ctx) }()
	go func() { defer h.wg.Done(); errc <- h.consume(ctx) }()
	go func() { defer h.wg.Done(); errc <- h.runWaiting(ctx) }()
	go func() { defer h.wg.Done(); errc <- h.housekeeping(ctx) }()
	go func() { defer h.wg.Done(); errc <- h.runAlarms(ctx) }()
	close(h.ready)
	h.log.Info("hub ready", "hub", h.id, "dns", h.dns.UDPAddr().String(), "nats", h.clientURL(), "zone", h.cfg.DNS.Domain, "ca", h.cfg.DefaultCA().Directory)

	select {
	case <-ctx.Done():
	case err = <-errc:
		if err != nil {
			h.log.Error("hub component failed; stopping", "err", err)
		}
	}
	cancel()
	// No new agent or admin work from here; what was admitted finishes.
	h.stopIntake()
	h.wg.Wait()
	if ctx.Err() != nil && err == nil {
		return nil
	}
	return err
}

func (h *Hub) start(ctx context.Context) error {
	dataDir := h.cfg.DataDir
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	var err error
	if h.id, err = loadHubID(dataDir); err != nil {
		return err
	}
	h.started = time.Now().UTC()
	if ext := h.cfg.NATS.External; ext != nil {
		h.auth, err = natsauth.LoadExternal(ext.SigningKey, ext.Account, ext.Credentials)
		if err != nil {
			return fmt.Errorf("load external nats credentials: %w", err)
		}
		if err := h.connectExternal(ext); err != nil {
			return err
		}
	} else {
		// A data directory of an older hub gets this version's account
		// layout (agents in their own account) before anything connects.
		if err := natsauth.Upgrade(h.dir().Auth()); err != nil {
			return fmt.Errorf("upgrade nats keys in %s: %w", h.dir().Auth(), err)
		}
		h.auth, err = natsauth.Load(h.dir().Auth())
		if err != nil {
			return fmt.Errorf("load nats keys (did you run `certfleet-hub init`?): %w", err)
		}
		if err := h.startEmbedded(); err != nil {
			return err
		}
	}

	js, err := jetstream.New(h.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	h.store, err = store.Open(ctx, js, store.Options{Replicas: h.cfg.NATS.Replicas,
		// A request held by a hub that died is redelivered after this; a
		// live hub keeps its requests with HoldRequest and a heartbeat.
		AckWait: requestAckWait})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	if err := h.setupPacing(); err != nil {
		return err
	}

	// The fleet view is whole before anything reads it.
	if h.fleetFeed, err = fleet.Open(ctx, h.store); err != nil {
		return err
	}
	h.fleet = h.fleetFeed.Snapshot()
	h.statusW = newStatusWriter(h.store, h.log, func(id string) bool { return h.fleet.Get(id) != nil })
	h.statusW.start()

	h.dns, err = dnsserver.New(dnsserver.Config{
		Listen: h.cfg.DNS.Listen, Domain: h.cfg.DNS.Domain, NSName: h.cfg.DNS.NSName, NSAdmin: h.cfg.DNS.NSAdmin,
		Records: h.cfg.DNS.Records, TXTTTL: h.cfg.DNS.TXTTTL, RateLimit: h.cfg.DNS.RateLimit,
	}, h.log.With("component", "dns"))
	if err != nil {
		return fmt.Errorf("configure dns: %w", err)
	}
	// Load zones and challenges before answering, so a restarted hub never
	// answers NXDOMAIN for a record it holds.
	if err := h.loadDNS(ctx); err != nil {
		return err
	}
	if err := h.loadACMEDNS(ctx); err != nil {
		return err
	}
	h.dns.SetUpdateHandler(h.handleUpdate, h.signReply)
	if err := h.dns.Start(); err != nil {
		return fmt.Errorf("start dns: %w", err)
	}
	if err := h.startACMEDNS(ctx); err != nil {
		return err
	}
	if err := h.subscribeAgents(ctx); err != nil {
		return fmt.Errorf("subscribe agent subjects: %w", err)
	}
	if err := h.subscribeAdmin(ctx); err != nil {
		return fmt.Errorf("subscribe admin subjects: %w", err)
	}
	if err := h.subscribePeers(ctx); err != nil {
		return fmt.Errorf("subscribe to the other hubs: %w", err)
	}
	if err := h.watchPresence(ctx); err != nil {
		return err
	}
	if err := h.nc.Flush(); err != nil {
		return fmt.Errorf("flush subscriptions: %w", err)
	}
	if h.ns != nil {
		// Only now can agents connect: every hello finds the hub
		// listening, and a reconnect storm does not slow the start.
		if err := h.ns.AcceptClients(); err != nil {
			return err
		}
	}
	return nil
}

func (h *Hub) startEmbedded() error {
	var tlsCfg *tls.Config
	if !h.cfg.NATS.AllowPlaintext {
		var err error
		tlsCfg, h.caPEM, err = h.loadTLS()
		if err != nil {
			return err
		}
	}
	var err error
	h.ns, err = natsserver.Start(natsserver.Config{
		Listen: h.cfg.NATS.Listen, WebsocketListen: h.cfg.NATS.WebsocketListen, StoreDir: h.dir().JetStream(), TLS: tlsCfg,
		AllowPlaintext: h.cfg.NATS.AllowPlaintext, Auth: h.auth, ServerName: "certfleet-hub", SyncAlways: h.cfg.NATS.SyncAlways,
		// The hub connects in-process; agents and admins once it serves
		// them (start opens the port).
		DeferClients: true,
	}, h.log.With("component", "nats"))
	if err != nil {
		return fmt.Errorf("start nats: %w", err)
	}
	// The hub's own connections go through the in-process pipe, without
	// TLS (nothing crosses a network) and with retries: a restarted server
	// accepts thousands of reconnecting agents at the same moment, and the
	// hub must not give up on its own connection then.
	opts := []nats.Option{nats.InProcessServer(h.ns.Server()), nats.Name("certfleet-hub"), nats.MaxReconnects(-1),
		nats.Timeout(inProcessTimeout)}
	const url = "nats://in-process"
	if h.nc, err = connectRetrying(url, append(opts, nats.UserCredentials(h.auth.HubCreds()))...); err != nil {
		return fmt.Errorf("connect to embedded nats as hub: %w", err)
	}
	if h.sysnc, err = connectRetrying(url, append(opts, nats.UserCredentials(h.auth.SystemCreds()))...); err != nil {
		return fmt.Errorf("connect to embedded nats as system: %w", err)
	}
	return nil
}

// inProcessTimeout bounds one in-process connection attempt, and
// inProcessWithin all of them.
const (
	inProcessTimeout = 10 * time.Second
	inProcessWithin  = time.Minute
)

// connectRetrying connects, retrying with a growing pause for up to
// inProcessWithin.
func connectRetrying(url string, opts ...nats.Option) (*nats.Conn, error) {
	deadline := time.Now().Add(inProcessWithin)
	pause := 50 * time.Millisecond
	for {
		nc, err := nats.Connect(url, opts...)
		if err == nil {
			return nc, nil
		}
		if time.Now().Add(pause).After(deadline) || errors.Is(err, nats.ErrAuthorization) {
			return nil, err
		}
		time.Sleep(pause)
		pause = min(2*pause, 2*time.Second)
	}
}

// loadTLS returns the client-port TLS config and the CA PEM to pin in
// enrollment bundles (empty for an operator-supplied public certificate).
func (h *Hub) loadTLS() (*tls.Config, []byte, error) {
	if h.cfg.NATS.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(h.cfg.NATS.TLSCert, h.cfg.NATS.TLSKey)
		if err != nil {
			return nil, nil, fmt.Errorf("load nats.tls_cert/nats.tls_key: %w", err)
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil, nil
	}
	cfg, ca, err := natsauth.LoadTLS(h.dir().TLS())
	if err != nil {
		return nil, nil, fmt.Errorf("load the hub's NATS TLS material (did you run `certfleet-hub init`?): %w", err)
	}
	return cfg, ca, nil
}

func (h *Hub) connectExternal(ext *config.ExternalNATS) error {
	opts := append([]nats.Option{nats.Name("certfleet-hub"), nats.MaxReconnects(-1), nats.UserCredentials(ext.Credentials)}, h.connHandlers()...)
	if ext.CA != "" {
		opts = append(opts, nats.RootCAs(ext.CA))
		ca, err := os.ReadFile(ext.CA)
		if err != nil {
			return fmt.Errorf("read nats.external.ca: %w", err)
		}
		h.caPEM = ca
	}
	var err error
	h.nc, err = nats.Connect(strings.Join(ext.URLs, ","), opts...)
	if err != nil {
		return fmt.Errorf("connect to external nats: %w", err)
	}
	return nil
}

// issuer returns the ACME client of the CA called name ("" = the
// default), creating (and registering) it on first use so a CA outage does
// not stop the hub.
func (h *Hub) issuer(ctx context.Context, name string) (*issuer.Issuer, error) {
	h.issMu.Lock()
	defer h.issMu.Unlock()
	ca := h.cfg.DefaultCA()
	if name != "" {
		var ok bool
		if ca, ok = h.cfg.CAByName(name); !ok {
			return nil, fmt.Errorf("no [[ca]] named %q", name)
		}
	}
	if iss := h.iss[ca.Name]; iss != nil {
		return iss, nil
	}
	accountDir := filepath.Join(h.dir().ACME(), ca.Name)
	var iss *issuer.Issuer
	// Twice at most: hubs starting together may each register an account;
	// the one that loses takes the winner's and builds its issuer again.
	for try := 0; ; try++ {
		if err := h.pullACMEAccount(ctx, ca.Name, accountDir); err != nil {
			return nil, err
		}
		var err error
		iss, err = issuer.New(ctx, issuer.Config{
			Name: ca.Name, DirectoryURL: ca.Directory, Email: ca.Email, EABKeyID: ca.EABKID, EABHMAC: ca.EABHMAC,
			CABundle: ca.CABundle, AccountDir: accountDir, KeyType: ca.KeyType,
			Logger: h.log.With("component", "acme", "ca", ca.Name),
		}, solver{h})
		if err != nil {
			return nil, fmt.Errorf("set up ACME account at %s: %w", ca.Directory, err)
		}
		err = h.pushACMEAccount(ctx, ca.Name, accountDir)
		if err == nil {
			break
		}
		if !errors.Is(err, errAccountTaken) || try > 0 {
			// Not cached: the next order builds the issuer on the shared account.
			return nil, fmt.Errorf("share the ACME account at %s: %w", ca.Directory, err)
		}
		h.log.Info("another hub registered the ACME account first; using it", "ca", ca.Name)
	}
	if h.iss == nil {
		h.iss = map[string]*issuer.Issuer{}
	}
	h.iss[ca.Name] = iss
	return iss, nil
}

// stopIntake unsubscribes the agent and admin subjects and waits for the
// agent requests already admitted.
func (h *Hub) stopIntake() {
	for _, sub := range h.subs {
		if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
			h.log.Warn("unsubscribe", "subject", sub.Subject, "err", err)
		}
	}
	if h.workers != nil {
		h.workers.stop()
	}
	h.peerTasks.stop()
}

func (h *Hub) revoke(pub string) error {
	return h.auth.Revoke(h.sysnc, pub)
}

// closeStatus writes the buffered agent statuses.
func (h *Hub) closeStatus() {
	if h.statusW != nil {
		h.statusW.Close()
	}
}

func (h *Hub) shutdown() {
	if h.fleetFeed != nil {
		h.fleetFeed.Close()
	}
	h.stopPprof()
	h.stopWeb()
	h.stopMetrics()
	h.stopACMEDNS()
	if h.dns != nil {
		if err := h.dns.Close(); err != nil {
			h.log.Warn("close dns", "err", err)
		}
	}
	for _, nc := range []*nats.Conn{h.nc, h.sysnc} {
		if nc != nil {
			// Every component has stopped: flush what is in flight
			// (results, acks), then close.
			if err := nc.FlushTimeout(2 * time.Second); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
				h.log.Warn("flush nats before stopping", "err", err)
			}
			nc.Close()
		}
	}
	if h.ns != nil {
		h.ns.Shutdown()
	}
}

// Run builds the hub from cfg and runs it until ctx ends: what
// `certfleet-hub run` does (see cli.Runner).
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, version string) error {
	h, err := New(cfg, log, version)
	if err != nil {
		return err
	}
	return h.Run(ctx)
}
