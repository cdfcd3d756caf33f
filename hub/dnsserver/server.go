package dnsserver

import (
	"cmp"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/certfleet/certfleet/shared"
)

// Server is the authoritative challenge DNS server. Its methods are safe
// for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	hub     *zone  // the hub zone, built once
	nsName  string // FQDN
	mbox    string // SOA RNAME
	limiter *limiter
	slip    atomic.Uint64
	stats   counters

	view atomic.Pointer[view] // what queries are answered from

	mu      sync.Mutex            // serializes writers of view and the fields below
	entries map[string][]txtEntry // challenge values by owner
	extra   []string              // delegated zones (FQDNs), sorted

	net transport

	update UpdateFunc // RFC 2136 UPDATE; nil answers NOTIMP
	sign   SignFunc   // replies to TSIG-signed queries; nil answers unsigned

	// stale: the data may lack recent changes (see SetStale).
	stale atomic.Bool
}

// SetStale says whether the server's challenge data may lack recent
// changes (its feed is cut off). While it may, the server answers SERVFAIL
// to every TXT or ANY question and to every question it would answer
// without records (NXDOMAIN, NODATA, a zone it does not know), so a
// resolver asks another of the zone's name servers instead of taking a
// missing challenge for a final answer. Positive answers from the static
// records (SOA, NS, addresses) are still given.
func (s *Server) SetStale(stale bool) {
	if s.stale.Swap(stale) != stale {
		s.log.Info("dns data freshness", "stale", stale)
	}
}

// Stale reports what SetStale last set.
func (s *Server) Stale() bool { return s.stale.Load() }

// New checks cfg and makes a server that is not yet listening (see Start).
// A nil logger means slog.Default().
func New(cfg Config, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dns config: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	origin := dns.Fqdn(shared.NormalizeName(cfg.Domain))
	mbox, err := mailbox(cfg.NSAdmin, shared.NormalizeName(cfg.Domain))
	if err != nil {
		return nil, fmt.Errorf("dns.nsadmin: %w", err)
	}
	static, err := parseRecords(cfg.Records, origin)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		log:     logger,
		nsName:  dns.Fqdn(shared.NormalizeName(cfg.NSName)),
		mbox:    mbox,
		entries: make(map[string][]txtEntry),
	}
	s.hub = newZone(origin, s.nsName, mbox, cfg.txtTTL(), static)
	if cfg.RateLimit > 0 {
		s.limiter = newLimiter(cfg.RateLimit)
	}
	s.view.Store(&view{
		zones:  []*zone{s.hub},
		serial: nextSerial(0, time.Now()),
		txtTTL: cfg.txtTTL(),
		txt:    &shardedMap[*txtSet]{},
		ents:   &shardedMap[int]{},
	})
	return s, nil
}

// SetZones sets the zones delegated to the hub by NS (hub.ModeZone), each
// served with its own SOA and NS. The hub zone is always served. Invalid
// names are logged and skipped.
func (s *Server) SetZones(zones []string) {
	names := make([]string, 0, len(zones))
	for _, z := range zones {
		n := shared.NormalizeName(z)
		if err := validateZoneName(n); err != nil {
			s.log.Warn("dns zone ignored", "zone", z, "err", err)
			continue
		}
		if n = dns.Fqdn(n); n != s.hub.origin {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)

	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Equal(names, s.extra) {
		return
	}
	old := s.view.Load()
	v := old.with()
	v.zones = []*zone{s.hub}
	for _, n := range names {
		if z := old.zone(n); z != nil && z.origin == n {
			v.zones = append(v.zones, z) // unchanged zone: reuse
			continue
		}
		z := newZone(n, s.nsName, s.mbox, s.cfg.txtTTL(), nil)
		// The hub zone's name servers serve this zone too: with several
		// hubs, its NS set names them all (the extra ones come from
		// dns.records), as the parent's delegation does.
		for _, rr := range s.hub.ns {
			z.add(&dns.NS{Hdr: dns.RR_Header{Name: n, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: rr.Header().Ttl}, Ns: rr.(*dns.NS).Ns})
		}
		v.zones = append(v.zones, z)
	}
	// Most labels first: the first zone holding a name is the closest.
	slices.SortStableFunc(v.zones, func(a, b *zone) int { return cmp.Compare(b.labels, a.labels) })
	v.serial = nextSerial(old.serial, time.Now())
	s.extra = names
	s.view.Store(v)
	s.log.Info("dns zones set", "zones", len(names)+1)
}

// Zones returns the served zones (FQDNs), the hub zone first.
func (s *Server) Zones() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{s.hub.origin}, s.extra...)
}

// Serial returns the current SOA serial, which grows on every change.
func (s *Server) Serial() uint32 { return s.view.Load().serial }

// Stats are counters since the server was made.
type Stats struct {
	Queries     uint64 // packets handled
	NoError     uint64 // replies by rcode
	NXDomain    uint64
	Refused     uint64
	FormErr     uint64
	NotImp      uint64
	ServFail    uint64
	BadVers     uint64
	Truncated   uint64 // replies with TC set
	RateLimited uint64 // queries over the rate limit (dropped or slipped)
	Dropped     uint64 // queries not answered: no header, a response, or unpackable
	// QTypes counts well-formed questions by type, indexed as QTypeNames.
	QTypes [NumQTypes]uint64
}

type counters struct {
	queries, noError, nxDomain, refused, formErr, notImp, servFail, badVers atomic.Uint64
	truncated, rateLimited, dropped                                         atomic.Uint64
	qtypes                                                                  [NumQTypes]atomic.Uint64
}

func (c *counters) count(rcode int) {
	switch rcode {
	case dns.RcodeSuccess:
		c.noError.Add(1)
	case dns.RcodeNameError:
		c.nxDomain.Add(1)
	case dns.RcodeRefused:
		c.refused.Add(1)
	case dns.RcodeFormatError:
		c.formErr.Add(1)
	case dns.RcodeNotImplemented:
		c.notImp.Add(1)
	case dns.RcodeServerFailure:
		c.servFail.Add(1)
	case dns.RcodeBadVers:
		c.badVers.Add(1)
	}
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	st := Stats{
		Queries: c.queries.Load(), NoError: c.noError.Load(), NXDomain: c.nxDomain.Load(),
		Refused: c.refused.Load(), FormErr: c.formErr.Load(), NotImp: c.notImp.Load(),
		ServFail: c.servFail.Load(), BadVers: c.badVers.Load(), Truncated: c.truncated.Load(),
		RateLimited: c.rateLimited.Load(), Dropped: c.dropped.Load(),
	}
	for i := range c.qtypes {
		st.QTypes[i] = c.qtypes[i].Load()
	}
	return st
}

// UDPAddr is the bound UDP address (nil before Start).
func (s *Server) UDPAddr() net.Addr { return s.net.udpAddr() }

// TCPAddr is the bound TCP address (nil before Start).
func (s *Server) TCPAddr() net.Addr { return s.net.tcpAddr() }
