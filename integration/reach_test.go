//go:build linux

package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certfleet/certfleet/integration/fleet"
	"github.com/certfleet/certfleet/internal/connectproxy/proxytest"
)

// hubName is the name in the hub's NATS certificate that agents behind
// a site relay check (hub.tls_server_name).
const reachHubName = "hub.certfleet.test"

// reachCase is one agent in its own network namespace, which can reach
// only one endpoint in the root namespace (where the hub runs on
// loopback): the hub's wss port, a proxy, or a relay.
type reachCase struct {
	name    string
	ns      *netNS
	allowed string // the only host:port the namespace is meant to reach
	hubTOML string // the agent's [hub] keys
	// transport is how `certfleet-agent status` must describe the path.
	transport string
}

// TestReach: an agent whose network reaches only (a) the hub's wss port,
// (b) an HTTP CONNECT proxy (the test's own and Debian's tinyproxy), or
// (c) a site relay gets a certificate from Pebble through the hub in
// each case, and has no other route: a direct dial to the hub's NATS
// port fails from its namespace.
func TestReach(t *testing.T) {
	requireNetns(t)
	c := ctx(t)
	env := newStoppedEnv(t, "")
	natsPort := env.NATSPort()
	hubTLS := net.JoinHostPort("127.0.0.1", strconv.Itoa(natsPort))

	wsNS := newNetNS(t, 0)
	wsAddr := net.JoinHostPort(wsNS.HostIP, strconv.Itoa(freePortOn(t, wsNS.HostIP)))
	// The hub: NATS on loopback as always, plus WebSocket on the address
	// the first namespace reaches; its certificate names every address
	// agents dial and the name agents behind the relay check.
	if err := env.EditHubConfig(func(s string) (string, error) {
		return strings.Replace(s, "[nats]\n", fmt.Sprintf("[nats]\nwebsocket_listen = %q\ntls_hosts = [\"127.0.0.1\", %q, %q]\n",
			wsAddr, wsNS.HostIP, reachHubName), 1), nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := env.SetHubConfigLine("advertise", fmt.Sprintf("[%q, %q]", "tls://"+hubTLS, "wss://"+wsAddr)); err != nil {
		t.Fatal(err)
	}
	if err := env.StartHub(c); err != nil {
		t.Fatal(err)
	}

	cases := []*reachCase{{name: "wss", ns: wsNS, allowed: wsAddr, transport: "wss://" + wsAddr}}

	// (b) the test's CONNECT proxy, with Basic auth.
	pNS := newNetNS(t, 1)
	proxy := proxytest.Start(t, net.JoinHostPort(pNS.HostIP, "0"), "site", "pr0xy")
	cases = append(cases, &reachCase{name: "proxy", ns: pNS, allowed: proxy.Addr,
		hubTOML:   fmt.Sprintf("proxy_url = %q", "http://site:pr0xy@"+proxy.Addr),
		transport: "tls://" + hubTLS + " via proxy http://site:xxxxx@" + proxy.Addr})

	// (b) Debian's tinyproxy, with Basic auth.
	if tp, err := exec.LookPath("tinyproxy"); err != nil {
		t.Log("tinyproxy is missing (apt-get install tinyproxy; .ci/run does): the real-proxy case is not run")
	} else {
		tNS := newNetNS(t, 2)
		addr := startTinyproxy(t, tp, tNS, natsPort)
		cases = append(cases, &reachCase{name: "tinyproxy", ns: tNS, allowed: addr,
			hubTOML:   fmt.Sprintf("proxy_url = %q", "http://site:t1ny@"+addr),
			transport: "tls://" + hubTLS + " via proxy http://site:xxxxx@" + addr})
	}

	// (c) a site relay: `certfleet-hub relay`, holding no credentials.
	rNS := newNetNS(t, 3)
	relayAddr := net.JoinHostPort(rNS.HostIP, strconv.Itoa(freePortOn(t, rNS.HostIP)))
	relay, err := fleet.StartProc(filepath.Join(env.BinDir(), "certfleet-hub"), filepath.Join(t.TempDir(), "relay.log"),
		"relay", "--listen", relayAddr, "--to", hubTLS, "--log-level", "debug")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relay.Stop(10 * time.Second) })
	awaitListening(t, relayAddr)
	cases = append(cases, &reachCase{name: "relay", ns: rNS, allowed: relayAddr,
		hubTOML:   fmt.Sprintf("urls = [%q]\ntls_server_name = %q", "tls://"+relayAddr, reachHubName),
		transport: "tls://" + relayAddr})

	// No other route: from every namespace the hub's NATS port is out of
	// reach, on loopback and on the address the namespace does reach,
	// while the one allowed endpoint answers (so the namespace works).
	for _, rc := range cases {
		if err := rc.ns.Dial(rc.allowed); err != nil {
			t.Fatalf("%s: the allowed endpoint %s is unreachable from the namespace: %v", rc.name, rc.allowed, err)
		}
		for _, direct := range []string{hubTLS, net.JoinHostPort(rc.ns.HostIP, strconv.Itoa(natsPort)), wsAddr} {
			if direct == rc.allowed {
				continue
			}
			if err := rc.ns.Dial(direct); err == nil {
				t.Fatalf("%s: the namespace reaches %s directly; the test proves nothing", rc.name, direct)
			}
		}
	}

	agents := map[string]*fleet.Agent{}
	for _, rc := range cases {
		name := rc.name + ".example.test"
		if _, err := env.AddDomain(c, name); err != nil {
			t.Fatal(err)
		}
		a, err := env.NewAgent(c, "reach-"+rc.name, []string{name}, fleet.CertSpec{Name: "web", Names: []string{name}})
		if err != nil {
			t.Fatal(err)
		}
		a.HubTOML, a.Netns = rc.hubTOML, rc.ns.Name
		if err := a.WriteConfig(fleet.CertSpec{Name: "web", Names: []string{name}}); err != nil {
			t.Fatal(err)
		}
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Stop() })
		agents[rc.name] = a
	}
	var wg sync.WaitGroup
	for _, rc := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := agents[rc.name]
			name := rc.name + ".example.test"
			if _, err := a.AwaitCert(c, "web", []string{name}, issueTimeout); err != nil {
				t.Errorf("%s: %v", rc.name, err)
				return
			}
			out, err := a.CLI(c, "status")
			if err != nil {
				t.Errorf("%s: status: %v", rc.name, err)
				return
			}
			if !strings.Contains(out, "hub: "+rc.transport+" (connected ") {
				t.Errorf("%s: status does not name the path %q:\n%s", rc.name, rc.transport, out)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, rc := range cases {
		checkInstalled(t, env, agents[rc.name], "web")
	}
	// The hub shows each agent's path too (from its status report).
	if err := fleet.Await(c, 30*time.Second, func() (bool, error) {
		st := hubStatus(t, env)
		seen := 0
		for _, s := range st.Status {
			for _, rc := range cases {
				if s.AgentID == "reach-"+rc.name && s.Report.Transport == rc.transport {
					seen++
				}
			}
		}
		return seen == len(cases), nil
	}); err != nil {
		t.Fatalf("hub status does not show every agent's path: %v", err)
	}
}

// startTinyproxy runs Debian's tinyproxy on the root side of ns, with
// Basic auth site:t1ny, allowed to CONNECT only to the hub's NATS port.
func startTinyproxy(t *testing.T, bin string, ns *netNS, hubPort int) string {
	t.Helper()
	dir := t.TempDir()
	port := freePortOn(t, ns.HostIP)
	conf := filepath.Join(dir, "tinyproxy.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`Port %d
Listen %s
Timeout 600
MaxClients 20
Allow %s
ConnectPort %d
BasicAuth site t1ny
LogLevel Info
LogFile "%s"
PidFile "%s"
`, port, ns.HostIP, ns.NSIP, hubPort, filepath.Join(dir, "tinyproxy.log"), filepath.Join(dir, "tinyproxy.pid"))), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := fleet.StartProc(bin, filepath.Join(dir, "tinyproxy.out"), "-d", "-c", conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Stop(10 * time.Second)
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "tinyproxy.log"))
			t.Logf("tinyproxy log:\n%s", b)
		}
	})
	addr := net.JoinHostPort(ns.HostIP, strconv.Itoa(port))
	awaitListening(t, addr)
	return addr
}

// awaitListening waits until something accepts connections on addr.
func awaitListening(t *testing.T, addr string) {
	t.Helper()
	if err := fleet.Await(ctx(t), 10*time.Second, func() (bool, error) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, nil
		}
		c.Close()
		return true, nil
	}); err != nil {
		t.Fatalf("nothing listens on %s: %v", addr, err)
	}
}

// TestReachOffline: an agent cut off from the hub keeps its certificate
// and retries; the moment its path is back it connects and gets what it
// needs (here a block added while it was offline).
func TestReachOffline(t *testing.T) {
	requireNetns(t)
	c := ctx(t)
	env := newStoppedEnv(t, "")
	ns := newNetNS(t, 8)
	hubTLS := net.JoinHostPort("127.0.0.1", strconv.Itoa(env.NATSPort()))
	wsAddr := net.JoinHostPort(ns.HostIP, strconv.Itoa(freePortOn(t, ns.HostIP)))
	if err := env.EditHubConfig(func(s string) (string, error) {
		return strings.Replace(s, "[nats]\n", fmt.Sprintf("[nats]\nwebsocket_listen = %q\ntls_hosts = [\"127.0.0.1\", %q]\n", wsAddr, ns.HostIP), 1), nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := env.SetHubConfigLine("advertise", fmt.Sprintf("[%q, %q]", "tls://"+hubTLS, "wss://"+wsAddr)); err != nil {
		t.Fatal(err)
	}
	if err := env.StartHub(c); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"off.example.test", "api.example.test"} {
		if _, err := env.AddDomain(c, d); err != nil {
			t.Fatal(err)
		}
	}
	web := fleet.CertSpec{Name: "web", Names: []string{"off.example.test"}}
	api := fleet.CertSpec{Name: "api", Names: []string{"api.example.test"}}
	a, err := env.NewAgent(c, "away", []string{"off.example.test", "api.example.test"}, web)
	if err != nil {
		t.Fatal(err)
	}
	a.Netns = ns.Name
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop() })
	before, err := a.AwaitCert(c, "web", web.Names, issueTimeout)
	if err != nil {
		t.Fatal(err)
	}

	// The site loses its link; the agent restarts with a new block.
	ipCmd(t, "link", "set", ns.HostIf, "down")
	if err := a.Stop(); err != nil {
		t.Fatalf("stop agent: %v", err)
	}
	if err := a.WriteConfig(web, api); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(a.Dir, "agent.log")
	logBefore, _ := os.ReadFile(logPath)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	// It tries every path (tls, then wss) and fails: one full round.
	if err := fleet.Await(c, 60*time.Second, func() (bool, error) {
		b, err := os.ReadFile(logPath)
		return err == nil && strings.Count(string(b[len(logBefore):]), "cannot reach hub") >= 2, err
	}); err != nil {
		t.Fatalf("agent did not try its paths while offline: %v", err)
	}
	if after, err := a.Leaf("web"); err != nil || after.SerialNumber.Cmp(before.SerialNumber) != 0 {
		t.Fatalf("offline agent lost or changed its certificate: %v", err)
	}
	checkInstalled(t, env, a, "web")

	ipCmd(t, "link", "set", ns.HostIf, "up")
	back := time.Now()
	if _, err := a.AwaitCert(c, "api", api.Names, issueTimeout); err != nil {
		t.Fatal(err)
	}
	t.Logf("link back: new block issued and installed after %s", time.Since(back).Round(100*time.Millisecond))
	if after, err := a.Leaf("web"); err != nil || after.SerialNumber.Cmp(before.SerialNumber) != 0 {
		t.Fatalf("certificate changed across the outage: %v", err)
	}
}
