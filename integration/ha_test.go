package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/integration/fleet"
	"github.com/certfleet/certfleet/integration/pebble"
)

// haWorld is two hubs on a three-node NATS cluster, reaching Pebble
// through a fault-injecting proxy.
type haWorld struct {
	env     *fleet.Env
	cluster *fleet.NATSCluster
	proxy   *fleet.CAProxy
	peer    *fleet.Peer
	// ids are the hubs' ids: "env" and "peer" by role.
	ids map[string]string
}

func newHAWorld(t *testing.T) *haWorld {
	t.Helper()
	bin := natsServer(t)
	dir := t.TempDir()
	began := time.Now()
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	env, cl, err := fleet.NewCluster(ctx(t), fleet.Options{
		Dir: dir, BinDir: binDir, HubConfig: fastRetry, Logger: logger,
		Pebble: pebble.Options{ChallengeRetryAfter: time.Second},
	}, bin, 3)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := fleet.StartCAProxy(env.Pebble.DirectoryURL(), env.Pebble.TLSRootPEM(), logger.With("component", "ca-proxy"))
	if err != nil {
		env.Close()
		cl.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, dir)
		}
		env.Close()
		proxy.Close()
		cl.Close()
	})
	if err := env.UseCAProxy(proxy); err != nil {
		t.Fatal(err)
	}
	peer, err := env.AddPeer("hub2")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.StartHub(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := peer.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	w := &haWorld{env: env, cluster: cl, proxy: proxy, peer: peer,
		ids: map[string]string{"env": env.HubRun().Hub, "peer": peer.Run().Hub}}
	if w.ids["env"] == "" || w.ids["env"] == w.ids["peer"] {
		t.Fatalf("hub ids %v: want two different ids", w.ids)
	}
	t.Logf("3 NATS nodes and 2 hubs (%s, %s) ready in %s", w.ids["env"], w.ids["peer"], time.Since(began).Round(time.Millisecond))
	return w
}

// kill SIGKILLs the hub with id.
func (w *haWorld) kill(id string) {
	if id == w.ids["env"] {
		w.env.KillHub()
	} else {
		w.peer.Kill()
	}
}

// restart starts the hub with id again.
func (w *haWorld) restart(c context.Context, id string) error {
	if id == w.ids["env"] {
		return w.env.StartHub(c)
	}
	return w.peer.Start(c)
}

// logOf is the log file of the hub with id.
func (w *haWorld) logOf(id string) string {
	if id == w.ids["env"] {
		return w.env.HubLogPath()
	}
	return w.peer.LogPath()
}

// dnsOf is the DNS address of the hub with id.
func (w *haWorld) dnsOf(id string) string {
	if id == w.ids["env"] {
		return w.env.HubRun().DNSUDP
	}
	return w.peer.DNSAddr()
}

// TestHAClusterTwoHubs: two hubs share one fleet on a three-node NATS
// cluster (JetStream R3). Agents order certificates; one hub is SIGKILLed
// with orders it drives finalized at the CA, the other resumes them; then
// the NATS node the surviving hub is connected to is SIGKILLed in the
// middle of renewals. Every agent gets its certificate, the CA issues exactly one
// per request, the audit has one issuance per request, `status` keeps
// working. After the hub and the node are back, both hubs' views and DNS
// answers are the same.
func TestHAClusterTwoHubs(t *testing.T) {
	t.Parallel()
	w := newHAWorld(t)
	env, c := w.env, ctx(t)
	if err := env.AddZone(c, corpZone); err != nil {
		t.Fatal(err)
	}
	const n = 5
	agents := make([]*fleet.Agent, n)
	names := make([][]string, n)
	for i := range n {
		agents[i], names[i] = zoneAgent(t, env, fmt.Sprintf("ha%d", i+1))
	}

	// Phase 1: a hub dies while orders it drives are finalized at the CA
	// (each hub takes at most its concurrency, 4, so both hold some).
	w.proxy.HoldFinalize(true)
	for _, a := range agents {
		startAgent(t, a)
	}
	if err := fleet.Await(c, 90*time.Second, func() (bool, error) {
		return w.proxy.Held() == n && env.Pebble.Stats().OrdersFinalized == n, nil
	}); err != nil {
		t.Fatalf("%d of %d finalize responses held (CA %+v): %v", w.proxy.Held(), n, env.Pebble.Stats(), err)
	}
	held := map[string]int{} // hub id -> requests it drives
	orders := map[string]bool{}
	r := hubStatus(t, env)
	for _, q := range r.Requests {
		if q.State != "ordering" || q.Hub == "" || q.OrderURL == "" || orders[q.OrderURL] {
			t.Fatalf("request %s of %s while its order is finalized: state %q, hub %q, order %q (one hub, one order each)", q.RequestID, q.AgentID, q.State, q.Hub, q.OrderURL)
		}
		orders[q.OrderURL] = true
		held[q.Hub]++
	}
	if held[w.ids["env"]]+held[w.ids["peer"]] != n || held[w.ids["env"]] == 0 || held[w.ids["peer"]] == 0 {
		t.Fatalf("orders driven per hub %v: want all %d split over both hubs %v", held, n, w.ids)
	}
	keepers := 0
	for _, hb := range r.Hubs {
		if hb.Housekeeping {
			keepers++
		}
	}
	if len(r.Hubs) != 2 || keepers != 1 {
		t.Fatalf("status lists hubs %+v: want both, one of them doing the housekeeping", r.Hubs)
	}
	victim, survivor := w.ids["env"], w.ids["peer"]
	if held[survivor] > held[victim] {
		victim, survivor = survivor, victim
	}
	w.kill(victim)
	killed := time.Now()
	w.proxy.Pass()
	for i, a := range agents {
		if _, err := a.AwaitCert(c, "tls", names[i], 90*time.Second); err != nil {
			q, _ := latestRequest(hubStatus(t, env), a.Name)
			t.Fatalf("after hub %s died (%s ago), agent %s has no certificate; its request: %+v: %v",
				victim, time.Since(killed).Round(time.Second), a.Name, q, err)
		}
	}
	takeover := time.Since(killed)
	if got := strings.Count(readFile(t, w.logOf(survivor)), "taking over a request from a hub that went silent"); got != held[victim] {
		t.Errorf("hub %s took over %d requests, want the %d hub %s drove", survivor, got, held[victim], victim)
	}
	st := env.Pebble.Stats()
	t.Logf("hub %s SIGKILLed driving %d of %d finalized orders: all %d certificates installed %s later (hub %s resumed them); CA: %d accounts, %d orders, %d issued",
		victim, held[victim], n, n, takeover.Round(100*time.Millisecond), survivor, st.AccountsCreated, st.OrdersCreated, st.OrdersFinalized)
	if st.OrdersCreated != n || st.OrdersFinalized != n {
		t.Fatalf("CA saw %d orders and issued %d certificates for %d requests: the surviving hub ordered again instead of resuming", st.OrdersCreated, st.OrdersFinalized, n)
	}

	// Phase 2: renewals through the surviving hub; the NATS node it is
	// connected to dies while their orders are finalized.
	const m = 3
	old := make([]string, m)
	w.proxy.HoldFinalize(true)
	for i := range m {
		old[i] = serialOf(t, agents[i])
		if _, err := env.Hub(c, "renew", agents[i].Name); err != nil {
			t.Fatal(err)
		}
	}
	if err := fleet.Await(c, 60*time.Second, func() (bool, error) {
		return w.proxy.Held() == m && env.Pebble.Stats().OrdersFinalized == n+m, nil
	}); err != nil {
		t.Fatalf("%d of %d renewals held (CA %+v): %v", w.proxy.Held(), m, env.Pebble.Stats(), err)
	}
	node := w.nodeOf(survivor)
	if node == nil {
		t.Fatalf("hub %s is connected to no node of the cluster", survivor)
	}
	led := streamsLedBy(t, w.cluster, node.Name)
	node.Kill()
	nodeKilled := time.Now()
	w.proxy.Pass()
	for i := range m {
		awaitNewSerial(t, agents[i], "tls", old[i], 90*time.Second)
	}
	t.Logf("NATS node %s (hub %s's, leading %d streams) SIGKILLed with %d renewals finalized: all installed %s later",
		node.Name, survivor, led, m, time.Since(nodeKilled).Round(100*time.Millisecond))
	// Its DNS told resolvers to go elsewhere while cut off, and is back.
	if err := fleet.Await(c, 30*time.Second, func() (bool, error) {
		return strings.Contains(readFile(t, w.logOf(survivor)), "NATS connection back and DNS data current"), nil
	}); err != nil || !strings.Contains(readFile(t, w.logOf(survivor)), "lost the NATS connection") {
		t.Fatalf("hub %s did not mark its DNS stale while cut off from NATS, then current: %v", survivor, err)
	}
	r = hubStatus(t, env) // status works with a hub and a node down
	if r.Hub != survivor {
		t.Fatalf("status answered by hub %q, want the survivor %s", r.Hub, survivor)
	}
	if st := env.Pebble.Stats(); st.OrdersFinalized != n+m {
		t.Fatalf("CA issued %d certificates for %d requests", st.OrdersFinalized, n+m)
	}
	checkOneIssuancePerRequest(t, env, n+m)

	// Phase 3: the hub and the node come back; the cluster and both hubs
	// converge.
	if err := node.Start(c); err != nil {
		t.Fatal(err)
	}
	if err := w.restart(c, victim); err != nil {
		t.Fatal(err)
	}
	awaitReplicasCurrent(t, w.cluster)
	awaitSameStatus(t, w)
	checkSameDNS(t, w)
	for _, stop := range []func() error{w.env.StopHub, w.peer.Stop} {
		if err := stop(); err != nil {
			t.Errorf("hub did not stop cleanly: %v", err)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// serialOf is the serial the agent recorded for block "tls".
func serialOf(t *testing.T, a *fleet.Agent) string {
	t.Helper()
	st, err := readAgentState(a)
	if err != nil {
		t.Fatal(err)
	}
	s := st.Certificates["tls"].Serial
	if s == "" {
		t.Fatalf("agent %s records no certificate", a.Name)
	}
	return s
}

// awaitNewSerial waits until the agent installed a certificate other than
// serial in block.
func awaitNewSerial(t *testing.T, a *fleet.Agent, block, serial string, timeout time.Duration) {
	t.Helper()
	if err := fleet.Await(ctx(t), timeout, func() (bool, error) {
		st, err := readAgentState(a)
		if err != nil {
			return false, nil
		}
		c := st.Certificates[block]
		return c.Serial != "" && c.Serial != serial && c.Pending == nil, nil
	}); err != nil {
		t.Fatalf("agent %s never installed a certificate replacing %s: %v", a.Name, serial, err)
	}
}

// nodeOf is the node the hub with id connected to when it started.
func (w *haWorld) nodeOf(id string) *fleet.ExternalNATS {
	url := w.peer.Run().NATSURL
	if id == w.ids["env"] {
		url = w.env.HubRun().NATSURL
	}
	for _, x := range w.cluster.Nodes {
		if x.URL == url {
			return x
		}
	}
	return nil
}

// streamsLedBy counts the streams of the hubs' account that server leads.
func streamsLedBy(t *testing.T, cl *fleet.NATSCluster, server string) int {
	t.Helper()
	nc, err := cl.Connect(cl.HubCreds())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	lister := js.ListStreams(ctx(t))
	for info := range lister.Info() {
		if info.Cluster != nil && info.Cluster.Leader == server {
			n++
		}
	}
	if err := lister.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkOneIssuancePerRequest: the audit has exactly one "issued" event per
// request id, want of them, and no failed or refused request.
func checkOneIssuancePerRequest(t *testing.T, env *fleet.Env, want int) {
	t.Helper()
	out, err := env.Hub(ctx(t), "audit", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep admin.AuditReply
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	issued := map[string]int{}
	for _, raw := range rep.Events {
		var ev store.AuditEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		switch ev.Kind {
		case store.AuditIssued:
			issued[ev.RequestID]++
		case store.AuditFailed, store.AuditRefused:
			t.Errorf("audit: %s %s of %s: %s", ev.Kind, ev.RequestID, ev.Agent, ev.Detail)
		}
	}
	if len(issued) != want {
		t.Errorf("audit: %d requests issued, want %d", len(issued), want)
	}
	for id, k := range issued {
		if k != 1 {
			t.Errorf("audit: request %s issued %d times", id, k)
		}
	}
}

// awaitReplicasCurrent waits until every stream of the hubs' account has
// its two other replicas current again.
func awaitReplicasCurrent(t *testing.T, cl *fleet.NATSCluster) {
	t.Helper()
	nc, err := cl.Connect(cl.HubCreds())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	var behind []string
	err = fleet.Await(c, 60*time.Second, func() (bool, error) {
		behind = nil
		lister := js.ListStreams(c)
		for info := range lister.Info() {
			cl := info.Cluster
			if info.Config.Replicas != 3 {
				return false, fmt.Errorf("stream %s has %d replicas, want 3", info.Config.Name, info.Config.Replicas)
			}
			ok := cl != nil && cl.Leader != "" && len(cl.Replicas) == 2
			if ok {
				for _, r := range cl.Replicas {
					ok = ok && r.Current && !r.Offline && r.Lag == 0
				}
			}
			if !ok {
				behind = append(behind, info.Config.Name)
			}
		}
		return lister.Err() == nil && len(behind) == 0, nil
	})
	if err != nil {
		t.Fatalf("streams not replicated three times again: %v: %v", behind, err)
	}
}

// fleetKey is what two hubs' views must agree on: no timestamps of
// contact, which move on their own.
func fleetKey(r admin.StatusReply) string {
	var b strings.Builder
	agents := slices.Clone(r.Agents)
	slices.SortFunc(agents, func(a, b hub.Agent) int { return strings.Compare(a.ID, b.ID) })
	for _, a := range agents {
		fmt.Fprintf(&b, "agent %s %s %v %s\n", a.ID, a.NKey, a.Allow, a.CredsExpire.UTC().Format(time.RFC3339))
	}
	certs := slices.Clone(r.Certs)
	slices.SortFunc(certs, func(a, b hub.CertRecord) int { return strings.Compare(a.AgentID+a.CertName, b.AgentID+b.CertName) })
	for _, c := range certs {
		fmt.Fprintf(&b, "cert %s/%s %s %s\n", c.AgentID, c.CertName, c.Serial, c.RequestID)
	}
	reqs := slices.Clone(r.Requests)
	slices.SortFunc(reqs, func(a, b hub.RequestState) int { return strings.Compare(a.AgentID+a.RequestID, b.AgentID+b.RequestID) })
	for _, q := range reqs {
		fmt.Fprintf(&b, "request %s/%s %s %d %s\n", q.AgentID, q.RequestID, q.State, q.Attempts, q.Hub)
	}
	for _, a := range r.Alerts {
		fmt.Fprintf(&b, "alert %s %s %s\n", a.Kind, a.Agent, a.CertName)
	}
	return b.String()
}

// awaitSameStatus asks `status` until both hubs have answered (the admin
// subjects are a queue group: each call goes to one of them) with the same
// fleet.
func awaitSameStatus(t *testing.T, w *haWorld) {
	t.Helper()
	c := ctx(t)
	views := map[string]string{}
	err := fleet.Await(c, 60*time.Second, func() (bool, error) {
		r, err := tryHubStatus(c, w.env)
		if err != nil {
			return false, nil
		}
		views[r.Hub] = fleetKey(r)
		return len(views) == 2 && views[w.ids["env"]] == views[w.ids["peer"]], nil
	})
	if err != nil {
		t.Fatalf("the hubs' views differ (or one never answered): %v\n%v", err, views)
	}
	t.Logf("both hubs answer status with the same fleet (%d lines)", strings.Count(views[w.ids["env"]], "\n"))
}

// checkSameDNS puts a challenge into the store as a hub does and asks
// both hubs' DNS servers the same questions: the answers must be the same
// (SOA serials aside: each hub numbers its own changes).
func checkSameDNS(t *testing.T, w *haWorld) {
	t.Helper()
	c := ctx(t)
	nc, err := w.cluster.Connect(w.cluster.HubCreds())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(c, store.BucketChallenges)
	if err != nil {
		t.Fatal(err)
	}
	owner := "_acme-challenge.ha-check." + corpZone + "."
	b, _ := json.Marshal(hub.Challenge{FQDN: owner, Value: "ha-check-value", Created: time.Now().UTC()})
	if _, err := kv.Create(c, "hacheck", b, jetstream.KeyTTL(time.Hour)); err != nil {
		t.Fatal(err)
	}
	questions := []struct {
		name  string
		qtype uint16
	}{
		{owner, dns.TypeTXT},
		{"_acme-challenge.nothing." + corpZone + ".", dns.TypeTXT},
		{corpZone + ".", dns.TypeSOA},
		{fleet.HubZone + ".", dns.TypeSOA},
		{fleet.HubZone + ".", dns.TypeNS},
		{"ns1." + fleet.HubZone + ".", dns.TypeA},
		{"elsewhere.example.", dns.TypeTXT},
	}
	answers := func(addr string) string {
		var out strings.Builder
		for _, q := range questions {
			m := new(dns.Msg)
			m.SetQuestion(q.name, q.qtype)
			r, _, err := (&dns.Client{Net: "tcp", Timeout: 5 * time.Second}).Exchange(m, addr)
			if err != nil {
				return "error: " + err.Error()
			}
			fmt.Fprintf(&out, "%s %s: %s aa=%v\n", q.name, dns.TypeToString[q.qtype], dns.RcodeToString[r.Rcode], r.Authoritative)
			for _, rr := range slices.Concat(r.Answer, r.Ns) {
				if soa, ok := rr.(*dns.SOA); ok {
					soa.Serial = 0
				}
				fmt.Fprintf(&out, "  %s\n", rr)
			}
		}
		return out.String()
	}
	var a, b2 string
	if err := fleet.Await(c, 30*time.Second, func() (bool, error) {
		a, b2 = answers(w.dnsOf(w.ids["env"])), answers(w.dnsOf(w.ids["peer"]))
		return a == b2 && strings.Contains(a, "ha-check-value"), nil
	}); err != nil {
		t.Fatalf("the hubs' DNS answers differ: %v\n%s:\n%s\n%s:\n%s", err, w.ids["env"], a, w.ids["peer"], b2)
	}
	t.Logf("both hubs' DNS give the same answers to %d questions", len(questions))
}
