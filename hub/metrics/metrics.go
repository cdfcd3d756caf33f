package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/certfleet/certfleet/hub/dnsserver"
)

const namespace = "certfleet"

// cacheFor is how long a fleet snapshot serves scrapes: listing a large
// fleet costs store reads, and Prometheus scrapes every 15-60 s.
const cacheFor = 5 * time.Second

// snapshotTimeout bounds one snapshot (the scrape gets an error after it).
const snapshotTimeout = 10 * time.Second

// Metrics is the hub's registry.
type Metrics struct {
	reg      *prometheus.Registry
	orders   *prometheus.CounterVec
	orderDur *prometheus.HistogramVec
	fleet    *fleetCollector
	log      *slog.Logger

	acmednsOnce sync.Once
	acmedns     *prometheus.CounterVec
}

// New makes the registry. snapshot is called at scrape time (at most once
// per cacheFor).
func New(snapshot func(context.Context) (Fleet, error), log *slog.Logger) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), log: log}
	m.orders = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "orders_total",
		Help: "ACME orders finished by this hub since it started, by CA and result (issued, or the error code).",
	}, []string{"ca", "result"})
	m.orderDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "order_duration_seconds",
		Help:    "Time from placing an ACME order to its result, by CA and result.",
		Buckets: []float64{1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600},
	}, []string{"ca", "result"})
	m.fleet = &fleetCollector{snapshot: snapshot, log: log, now: time.Now}
	m.reg.MustRegister(m.orders, m.orderDur, m.fleet,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveOrder records one finished order. result is "issued" or a
// shared.Code (a bounded set).
func (m *Metrics) ObserveOrder(ca, result string, took time.Duration) {
	m.orders.WithLabelValues(ca, result).Inc()
	m.orderDur.WithLabelValues(ca, result).Observe(took.Seconds())
}

// Handler serves the registry in the Prometheus text or protobuf format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slogErrorLog{m.log}, ErrorHandling: promhttp.ContinueOnError})
}

type slogErrorLog struct{ log *slog.Logger }

func (l slogErrorLog) Println(v ...any) { l.log.Warn("serve metrics", "err", fmt.Sprint(v...)) }

var (
	descCerts = prometheus.NewDesc(namespace+"_certificates", "Certificates reported by agents, by state.", []string{"state"}, nil)
	descLeft  = prometheus.NewDesc(namespace+"_certificate_expiry_seconds",
		"Seconds until the certificate expires (negative once expired).", []string{"agent", "cert"}, nil)
	descUnmanaged = prometheus.NewDesc(namespace+"_unmanaged_certificates",
		"Certificates agents found in their [inventory] paths that certfleet does not manage, by state (expired, expiring_14d, valid).", []string{"state"}, nil)
	descAgents     = prometheus.NewDesc(namespace+"_agents", "Enrolled agents.", nil, nil)
	descOnline     = prometheus.NewDesc(namespace+"_agents_connected", "Agents heard from within agents.silent_after.", nil, nil)
	descQueue      = prometheus.NewDesc(namespace+"_queue_depth", "Certificate requests in the durable queue (waiting or being ordered).", nil, nil)
	descRequests   = prometheus.NewDesc(namespace+"_requests", "Tracked certificate requests, by state.", []string{"state"}, nil)
	descDropped    = prometheus.NewDesc(namespace+"_agent_messages_dropped_total", "Agent messages this hub dropped unanswered since it started, by reason.", []string{"reason"}, nil)
	descDNSQueries = prometheus.NewDesc(namespace+"_dns_queries_total", "Questions answered by the challenge DNS server, by query type.", []string{"type"}, nil)
	descDNSRcodes  = prometheus.NewDesc(namespace+"_dns_responses_total", "Challenge DNS replies, by rcode.", []string{"rcode"}, nil)
	descDNSOther   = prometheus.NewDesc(namespace+"_dns_packets_total", "Challenge DNS packets: received, truncated replies, rate limited, dropped.", []string{"kind"}, nil)
	descLimit      = prometheus.NewDesc(namespace+"_issuance_concurrency_limit", "Orders this hub may have in flight now (adapted to the CA).", nil, nil)
	descInFlight   = prometheus.NewDesc(namespace+"_issuance_orders_in_flight", "Orders this hub has in flight.", nil, nil)
	descLimitCuts  = prometheus.NewDesc(namespace+"_issuance_concurrency_cuts_total", "Times the concurrency limit was cut (CA 429, server errors, latency).", nil, nil)
	descHeld       = prometheus.NewDesc(namespace+"_issuance_held_seconds", "Seconds until a CA's Retry-After stops holding new orders (0: not held).", nil, nil)
	descWaiting    = prometheus.NewDesc(namespace+"_issuance_waiting", "Requests waiting outside the queue for a CA budget or Retry-After.", nil, nil)
	descScrapeOK   = prometheus.NewDesc(namespace+"_fleet_snapshot_ok", "1 when the fleet state could be read from the store at this scrape.", nil, nil)
)

// fleetCollector turns a Fleet snapshot into const metrics at scrape time.
type fleetCollector struct {
	snapshot func(context.Context) (Fleet, error)
	log      *slog.Logger
	now      func() time.Time

	mu     sync.Mutex
	cached Fleet
	at     time.Time
}

func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCerts, descLeft, descUnmanaged, descAgents, descOnline, descQueue, descRequests,
		descDropped, descDNSQueries, descDNSRcodes, descDNSOther, descLimit, descInFlight, descLimitCuts, descHeld,
		descWaiting, descScrapeOK} {
		ch <- d
	}
}

func (c *fleetCollector) get() (Fleet, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if !c.at.IsZero() && now.Sub(c.at) < cacheFor {
		return c.cached, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), snapshotTimeout)
	defer cancel()
	f, err := c.snapshot(ctx)
	if err != nil {
		c.log.Warn("read fleet state for metrics", "err", err)
		return f, false
	}
	c.cached, c.at = f, now
	return f, true
}

func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	f, ok := c.get()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descScrapeOK, b2f(ok))
	if f.DNS != nil {
		// Counters of this process: exported even when the store fails.
		for i, name := range dnsserver.QTypeNames {
			counter(descDNSQueries, f.DNS.QTypes[i], name)
		}
		for rc, n := range map[int]uint64{dns.RcodeSuccess: f.DNS.NoError, dns.RcodeNameError: f.DNS.NXDomain,
			dns.RcodeRefused: f.DNS.Refused, dns.RcodeFormatError: f.DNS.FormErr, dns.RcodeNotImplemented: f.DNS.NotImp,
			dns.RcodeServerFailure: f.DNS.ServFail, dns.RcodeBadVers: f.DNS.BadVers} {
			name := dns.RcodeToString[rc]
			if name == "" {
				name = strconv.Itoa(rc)
			}
			counter(descDNSRcodes, n, name)
		}
		counter(descDNSOther, f.DNS.Queries, "received")
		counter(descDNSOther, f.DNS.Truncated, "truncated")
		counter(descDNSOther, f.DNS.RateLimited, "rate_limited")
		counter(descDNSOther, f.DNS.Dropped, "dropped")
	}
	for reason, n := range f.Dropped {
		counter(descDropped, n, reason)
	}
	if is := f.Issuance; is != nil {
		// This process's own state: exported even when the store fails.
		gauge(descLimit, float64(is.Limit))
		gauge(descInFlight, float64(is.InFlight))
		counter(descLimitCuts, uint64(is.Drops))
		gauge(descHeld, max(0, is.HeldUntil.Sub(c.now()).Seconds()))
		gauge(descWaiting, float64(is.Waiting))
	}
	if !ok {
		return
	}
	now := c.now()
	byState := map[string]int{}
	for _, s := range States {
		byState[s] = 0
	}
	for _, crt := range f.Certs {
		if crt.NotAfter.IsZero() {
			continue
		}
		byState[crt.State(now)]++
		gauge(descLeft, crt.NotAfter.Sub(now).Seconds(), crt.Agent, crt.Name)
	}
	for s, n := range byState {
		gauge(descCerts, float64(n), s)
	}
	um := map[string]int{UnmanagedExpired: 0, UnmanagedExpiring: 0, UnmanagedValid: 0}
	for _, na := range f.Unmanaged {
		um[UnmanagedState(na, now)]++
	}
	for s, n := range um {
		gauge(descUnmanaged, float64(n), s)
	}
	gauge(descAgents, float64(f.AgentsRegistered))
	gauge(descOnline, float64(f.AgentsOnline))
	gauge(descQueue, float64(f.QueueDepth))
	for s, n := range f.Requests {
		gauge(descRequests, float64(n), s)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
