package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/integration/fleet"
	"github.com/certfleet/certfleet/integration/pebble"
	"github.com/certfleet/certfleet/shared"
)

// faultSetup shapes a fault test's world.
type faultSetup struct {
	// hubConfig is extra TOML for the hub's [issuance] table.
	hubConfig string
	// profiles replace Pebble's default profiles.
	profiles map[string]pebble.Profile
	// concurrency overrides the harness's issuance.concurrency.
	concurrency int
	// caDown starts the hub while the CA (its proxy) refuses connections.
	caDown bool
}

// newFaultEnv starts a world whose hub reaches Pebble through a
// fault-injecting proxy, and starts the hub.
func newFaultEnv(t *testing.T, s faultSetup) (*fleet.Env, *fleet.CAProxy) {
	t.Helper()
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	env, err := fleet.New(fleet.Options{
		Dir: dir, BinDir: binDir, HubConfig: s.hubConfig, Logger: logger,
		Pebble: pebble.Options{Profiles: s.profiles},
	})
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := fleet.StartCAProxy(env.Pebble.DirectoryURL(), env.Pebble.TLSRootPEM(), logger.With("component", "ca-proxy"))
	if err != nil {
		env.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, dir)
		}
		env.Close()
		proxy.Close()
	})
	if err := env.UseCAProxy(proxy); err != nil {
		t.Fatal(err)
	}
	if s.concurrency > 0 {
		if err := env.SetHubConfigLine("concurrency", strconv.Itoa(s.concurrency)); err != nil {
			t.Fatal(err)
		}
	}
	if s.caDown {
		proxy.Down()
	}
	if err := env.StartHub(ctx(t)); err != nil {
		t.Fatal(err)
	}
	return env, proxy
}

// startAgent starts a and kills it when the test ends.
func startAgent(t *testing.T, a *fleet.Agent) {
	t.Helper()
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Kill)
}

// fastRetry makes the hub retry a failed order after about a second
// (doubling), instead of the default 30 s.
const (
	fastRetry = `retry_base = "1s"`
	retryUnit = time.Second
)

// tryHubStatus is the fleet view, or an error while the hub is down.
func tryHubStatus(ctx context.Context, env *fleet.Env) (admin.StatusReply, error) {
	var r admin.StatusReply
	out, err := env.Hub(ctx, "status", "--json")
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return r, fmt.Errorf("status --json: %w\n%s", err, out)
	}
	return r, nil
}

// latestRequest is agent's most recently updated request in r.
func latestRequest(r admin.StatusReply, agent string) (hub.RequestState, bool) {
	var best hub.RequestState
	found := false
	for _, q := range r.Requests {
		if q.AgentID == agent && (!found || q.Updated.After(best.Updated)) {
			best, found = q, true
		}
	}
	return best, found
}

// reportedCert is what agent last reported about its block cert.
func reportedCert(r admin.StatusReply, agent, cert string) (shared.CertStatus, hub.AgentStatus, bool) {
	for _, s := range r.Status {
		if s.AgentID != agent {
			continue
		}
		for _, c := range s.Report.Certificates {
			if c.Name == cert {
				return c, s, true
			}
		}
	}
	return shared.CertStatus{}, hub.AgentStatus{}, false
}

// awaitRequest waits until agent's latest request satisfies cond and
// returns it.
func awaitRequest(t *testing.T, env *fleet.Env, agent string, timeout time.Duration, what string, cond func(hub.RequestState) bool) hub.RequestState {
	t.Helper()
	c := ctx(t)
	var last hub.RequestState
	err := fleet.Await(c, timeout, func() (bool, error) {
		r, err := tryHubStatus(c, env)
		if err != nil {
			return false, nil
		}
		q, ok := latestRequest(r, agent)
		last = q
		return ok && cond(q), nil
	})
	if err != nil {
		t.Fatalf("request of %s never %s (last seen: %+v): %v", agent, what, last, err)
	}
	return last
}

// agentState is the part of the agent's state file the tests read.
type agentState struct {
	Certificates map[string]struct {
		Serial  string `json:"serial"`
		Pending *struct {
			RequestID string `json:"request_id"`
			Published bool   `json:"published"`
		} `json:"pending"`
	} `json:"certificates"`
}

// checkSettled waits until the agent recorded leaf as installed in block
// (it writes the files one by one, cert.pem before fullchain.pem, and
// records the install after the last), then checks the files.
func checkSettled(t *testing.T, env *fleet.Env, a *fleet.Agent, block string, leaf *x509.Certificate) {
	t.Helper()
	want := fmt.Sprintf("%x", leaf.SerialNumber)
	if err := fleet.Await(ctx(t), 30*time.Second, func() (bool, error) {
		st, err := readAgentState(a)
		if err != nil {
			return false, nil
		}
		c := st.Certificates[block]
		return c.Serial == want && c.Pending == nil, nil
	}); err != nil {
		t.Fatalf("agent %s never recorded certificate %s as installed: %v", a.Name, want, err)
	}
	checkInstalled(t, env, a, block)
}

func readAgentState(a *fleet.Agent) (agentState, error) {
	var st agentState
	b, err := os.ReadFile(a.StatePath())
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

// agentBlockStatus is one row of `certfleet-agent status --json`.
type agentBlockStatus struct {
	Name       string    `json:"name"`
	Serial     string    `json:"serial"`
	NotAfter   time.Time `json:"not_after"`
	RenewAt    time.Time `json:"renew_at"`
	LastResult string    `json:"last_result"`
	LastError  string    `json:"last_error"`
	Pending    string    `json:"pending_request"`
}

func agentStatus(t *testing.T, a *fleet.Agent, block string) agentBlockStatus {
	t.Helper()
	out, err := a.CLI(ctx(t), "status", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []agentBlockStatus
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("agent status --json: %v\n%s", err, out)
	}
	for _, r := range rows {
		if r.Name == block {
			return r
		}
	}
	t.Fatalf("agent status has no block %q:\n%s", block, out)
	return agentBlockStatus{}
}

// orderAttempts are the new orders the hub placed: those the proxy failed
// and those the CA created (not a bad-nonce retry of the same attempt).
func orderAttempts(p *fleet.CAProxy) []fleet.Hit {
	var out []fleet.Hit
	for _, h := range p.Hits(fleet.KindNewOrder) {
		if h.Injected || h.Status == http.StatusCreated {
			out = append(out, h)
		}
	}
	return out
}

func logContains(path, s string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), s)
}

// ariWindow is a CA's suggested renewal window.
type ariWindow struct {
	Start, End time.Time
}

// renewalInfo asks Pebble's ARI endpoint (RFC 9773) about leaf directly.
func renewalInfo(t *testing.T, env *fleet.Env, leaf *x509.Certificate) ariWindow {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(env.Pebble.TLSRootPEM())
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(u string, v any) {
		t.Helper()
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s\n%s", u, resp.Status, b)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v\n%s", u, err, b)
		}
	}
	var dir struct {
		RenewalInfo string `json:"renewalInfo"`
	}
	get(env.Pebble.DirectoryURL(), &dir)
	if dir.RenewalInfo == "" {
		t.Fatal("the CA's directory has no renewalInfo")
	}
	// RFC 9773 section 4.1: base64url(AKI) "." base64url(the serial's DER
	// INTEGER contents, with a leading zero when the high bit is set).
	serial := leaf.SerialNumber.Bytes()
	if len(serial) > 0 && serial[0]&0x80 != 0 {
		serial = append([]byte{0}, serial...)
	}
	id := base64.RawURLEncoding.EncodeToString(leaf.AuthorityKeyId) + "." +
		base64.RawURLEncoding.EncodeToString(serial)
	var ri struct {
		SuggestedWindow struct {
			Start time.Time `json:"start"`
			End   time.Time `json:"end"`
		} `json:"suggestedWindow"`
	}
	get(dir.RenewalInfo+"/"+id, &ri)
	return ariWindow{Start: ri.SuggestedWindow.Start, End: ri.SuggestedWindow.End}
}
