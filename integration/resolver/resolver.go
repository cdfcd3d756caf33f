package resolver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// ErrNoRecord is returned by RemoveRecord for a record the resolver does not hold.
var ErrNoRecord = errors.New("no such record")

// Config configures a Resolver.
type Config struct {
	// Listen is "host:port" for UDP and TCP; default "127.0.0.1:0".
	Listen string
	// Records are records the resolver holds itself, in zone-file syntax
	// with absolute names, e.g.
	// "_acme-challenge.www.example.org. CNAME x1.acme.test.".
	Records []string
	// Forward maps a zone to the "host:port" of its authoritative server;
	// names at or under the zone are asked there (the closest zone wins,
	// and forwarded zones take precedence over the resolver's own records).
	// SetForward gives a zone several servers.
	Forward map[string]string
}

// Resolver is a running stand-in resolver. Its methods are safe for
// concurrent use.
type Resolver struct {
	log    *slog.Logger
	listen string

	mu      sync.RWMutex
	records map[string][]dns.RR // lower case owner FQDN -> records
	forward map[string][]string // lower case zone FQDN -> host:port of its servers
	// next rotates the server asked first, as resolvers spread queries
	// over a zone's name servers.
	next atomic.Uint32

	startMu sync.Mutex
	started bool
	closed  bool
	udp     *dns.Server
	tcp     *dns.Server
	addr    string
}

// New checks cfg and makes a resolver that is not yet listening (see
// Start). A nil logger means slog.Default().
func New(cfg Config, logger *slog.Logger) (*Resolver, error) {
	if logger == nil {
		logger = slog.Default()
	}
	r := &Resolver{
		log:     logger,
		listen:  cfg.Listen,
		records: make(map[string][]dns.RR),
		forward: make(map[string][]string),
	}
	if r.listen == "" {
		r.listen = "127.0.0.1:0"
	}
	if _, _, err := net.SplitHostPort(r.listen); err != nil {
		return nil, fmt.Errorf("resolver listen %q: %w", r.listen, err)
	}
	for i, text := range cfg.Records {
		if err := r.AddRecord(text); err != nil {
			return nil, fmt.Errorf("resolver records[%d]: %w", i, err)
		}
	}
	for zone, addr := range cfg.Forward {
		if err := checkForward(zone, addr); err != nil {
			return nil, fmt.Errorf("resolver forward: %w", err)
		}
		r.SetForward(zone, addr)
	}
	return r, nil
}

func checkForward(zone, addr string) error {
	if _, ok := dns.IsDomainName(zone); !ok {
		return fmt.Errorf("zone %q: not a domain name", zone)
	}
	if _, port, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("zone %q: address %q: %w", zone, addr, err)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("zone %q: address %q: bad port", zone, addr)
	}
	return nil
}

// AddRecord adds a record in zone-file syntax with an absolute owner name.
// Adding a record it holds already (TTL aside) changes nothing.
func (r *Resolver) AddRecord(text string) error {
	rr, err := parseRecord(text)
	if err != nil {
		return err
	}
	owner := strings.ToLower(rr.Header().Name)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, have := range r.records[owner] {
		if dns.IsDuplicate(have, rr) {
			return nil
		}
	}
	r.records[owner] = append(r.records[owner], rr)
	return nil
}

// RemoveRecord removes the record text describes (TTL aside); ErrNoRecord
// when it is not there.
func (r *Resolver) RemoveRecord(text string) error {
	rr, err := parseRecord(text)
	if err != nil {
		return err
	}
	owner := strings.ToLower(rr.Header().Name)
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.records[owner]
	for i, have := range set {
		if dns.IsDuplicate(have, rr) {
			set = append(set[:i:i], set[i+1:]...)
			if len(set) == 0 {
				delete(r.records, owner)
			} else {
				r.records[owner] = set
			}
			return nil
		}
	}
	return fmt.Errorf("remove %q: %w", text, ErrNoRecord)
}

// SetForward sends names at or under zone to its servers addrs
// ("host:port"), as a recursive resolver asks a zone's name servers: each
// query goes first to the next server in turn, and to the following ones
// when a server does not answer or answers with an error other than
// NXDOMAIN. No addrs (or one empty addr) stops forwarding zone.
func (r *Resolver) SetForward(zone string, addrs ...string) {
	z := dns.CanonicalName(zone)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(addrs) == 0 || len(addrs) == 1 && addrs[0] == "" {
		delete(r.forward, z)
		return
	}
	r.forward[z] = slices.Clone(addrs)
}

func parseRecord(text string) (dns.RR, error) {
	zp := dns.NewZoneParser(strings.NewReader(text), ".", "")
	zp.SetDefaultTTL(300)
	rr, ok := zp.Next()
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("record %q: %w", text, err)
	}
	if !ok {
		return nil, fmt.Errorf("record %q: no record", text)
	}
	if _, more := zp.Next(); more {
		return nil, fmt.Errorf("record %q: more than one record", text)
	}
	if rr.Header().Class != dns.ClassINET {
		return nil, fmt.Errorf("record %q: only class IN", text)
	}
	return rr, nil
}

// Start binds UDP and TCP on one port and serves in the background.
func (r *Resolver) Start() error {
	r.startMu.Lock()
	defer r.startMu.Unlock()
	if r.started || r.closed {
		return errors.New("start resolver: already started or closed")
	}
	pc, ln, err := listenPair(r.listen)
	if err != nil {
		return fmt.Errorf("start resolver: %w", err)
	}
	handler := dns.HandlerFunc(r.serveDNS)
	ready := make(chan struct{}, 2)
	notify := func() { ready <- struct{}{} }
	r.udp = &dns.Server{PacketConn: pc, Handler: handler, NotifyStartedFunc: notify}
	r.tcp = &dns.Server{Listener: ln, Handler: handler, NotifyStartedFunc: notify}
	errs := make(chan error, 2)
	for _, srv := range []*dns.Server{r.udp, r.tcp} {
		go func() {
			if err := srv.ActivateAndServe(); err != nil {
				errs <- err
			}
		}()
	}
	for range 2 {
		select {
		case <-ready:
		case err := <-errs:
			_ = pc.Close()
			_ = ln.Close()
			return fmt.Errorf("start resolver: %w", err)
		}
	}
	r.started = true
	r.addr = ln.Addr().String()
	r.log.Info("resolver listening", "addr", r.addr)
	return nil
}

// Addr is the "host:port" the resolver answers on, UDP and TCP ("" before
// Start).
func (r *Resolver) Addr() string {
	r.startMu.Lock()
	defer r.startMu.Unlock()
	return r.addr
}

// Close stops serving and waits for queries in progress. It is safe to
// call more than once.
func (r *Resolver) Close() error {
	r.startMu.Lock()
	defer r.startMu.Unlock()
	if r.closed || !r.started {
		r.closed = true
		return nil
	}
	r.closed = true
	// Queries in progress end within the forward timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 2*forwardTimeout)
	defer cancel()
	err := errors.Join(r.udp.ShutdownContext(ctx), r.tcp.ShutdownContext(ctx))
	if err != nil {
		return fmt.Errorf("close resolver: %w", err)
	}
	return nil
}

// listenPair binds TCP and UDP on one address; with port 0 UDP takes the
// port TCP got, retrying when it is taken.
func listenPair(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	attempts := 1
	if port == "0" {
		attempts = 20
	}
	for i := 0; ; i++ {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listen tcp: %w", err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			return pc, ln, nil
		}
		_ = ln.Close()
		if i+1 >= attempts {
			return nil, nil, fmt.Errorf("listen udp: %w", err)
		}
	}
}

// forwardTimeout bounds one query to a forward server.
const forwardTimeout = 2 * time.Second
