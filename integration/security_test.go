package integration

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/datadir"
	"github.com/certfleet/certfleet/hub/natsauth"
	"github.com/certfleet/certfleet/integration/fleet"
	"github.com/certfleet/certfleet/shared"
)

// Agent security end to end, against the embedded hub run as a process:
// the NATS server itself, configured by the hub, enforces all of it.

// hubTLS is the client TLS config that pins the hub's NATS CA.
func hubTLS(t *testing.T, env *fleet.Env) *tls.Config {
	t.Helper()
	ca, err := os.ReadFile(datadir.Dir(env.HubDataDir).CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("hub CA holds no certificate")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// dialHub connects to the hub's NATS port over TLS, without reconnecting.
func dialHub(t *testing.T, env *fleet.Env, opts ...nats.Option) (*nats.Conn, error) {
	t.Helper()
	base := []nats.Option{nats.Secure(hubTLS(t, env)), nats.NoReconnect(), nats.Timeout(5 * time.Second)}
	return nats.Connect(env.HubRun().NATSURL, append(base, opts...)...)
}

// enrollmentCreds returns the JWT and seed in an agent's enrollment file:
// the only secret the agent's host receives.
func enrollmentCreds(t *testing.T, a *fleet.Agent) (tok string, seed []byte, pub string) {
	t.Helper()
	return splitCreds(t, []byte(readEnrollment(t, a).Creds))
}

// splitCreds returns the JWT, seed and public key of a creds file's text.
func splitCreds(t *testing.T, creds []byte) (tok string, seed []byte, pub string) {
	t.Helper()
	tok, err := jwt.ParseDecoratedJWT(creds)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.ParseDecoratedNKey(creds)
	if err != nil {
		t.Fatal(err)
	}
	if seed, err = kp.Seed(); err != nil {
		t.Fatal(err)
	}
	if pub, err = kp.PublicKey(); err != nil {
		t.Fatal(err)
	}
	return tok, seed, pub
}

// asAgent connects with an agent's enrollment credentials, as that agent.
func asAgent(t *testing.T, env *fleet.Env, a *fleet.Agent, opts ...nats.Option) (*nats.Conn, error) {
	t.Helper()
	tok, seed, _ := enrollmentCreds(t, a)
	base := []nats.Option{nats.UserJWTAndSeed(tok, string(seed)), nats.Name(a.Name)}
	return dialHub(t, env, append(base, opts...)...)
}

// asHub connects with the hub user's credentials: an observer that sees
// every subject of the account.
func asHub(t *testing.T, env *fleet.Env) *nats.Conn {
	t.Helper()
	nc, err := dialHub(t, env, nats.UserCredentials(filepath.Join(datadir.Dir(env.HubDataDir).Auth(), datadir.HubCreds)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func isAuthViolation(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "authorization violation")
}

// errRecorder keeps the asynchronous errors the server sends a client.
type errRecorder struct {
	mu   sync.Mutex
	errs []string
}

func (r *errRecorder) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, strings.ToLower(err.Error()))
}

func (r *errRecorder) has(substr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		if strings.Contains(e, strings.ToLower(substr)) {
			return true
		}
	}
	return false
}

// TestAgentRemoveCutsConnection: `certfleet-hub agent remove` cuts a
// running agent's connection within seconds, and its credentials are
// refused from then on.
func TestAgentRemoveCutsConnection(t *testing.T) {
	t.Parallel()
	env := newEnv(t, "")
	c := ctx(t)
	a, err := env.NewAgent(c, "gone1", []string{"gone1.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	if err := fleet.Await(c, 20*time.Second, func() (bool, error) {
		return strings.Contains(agentLog(a), "connected to hub"), nil
	}); err != nil {
		t.Fatalf("agent never connected:\n%s", agentLog(a))
	}
	// A second connection with the same credentials, to watch the cut.
	probe, err := asAgent(t, env, a)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	if err := helloErr(probe, "gone1"); err != nil {
		t.Fatalf("hello before removal: %v", err)
	}

	began := time.Now()
	if _, err := env.Hub(c, "agent", "remove", "gone1"); err != nil {
		t.Fatal(err)
	}
	cli := time.Since(began)
	if err := fleet.Await(c, 5*time.Second, func() (bool, error) { return probe.IsClosed(), nil }); err != nil {
		t.Fatal("the removed agent's connection was not cut within 5s")
	}
	t.Logf("agent remove: connection cut %s after the command started (the CLI itself took %s)",
		time.Since(began).Round(time.Millisecond), cli.Round(time.Millisecond))
	if err := fleet.Await(c, 5*time.Second, func() (bool, error) {
		return strings.Contains(agentLog(a), "disconnected from hub"), nil
	}); err != nil {
		t.Fatalf("the running agent was not disconnected:\n%s", agentLog(a))
	}
	if nc, err := asAgent(t, env, a); err == nil {
		nc.Close()
		t.Fatal("removed agent reconnected")
	} else if !isAuthViolation(err) {
		t.Fatalf("removed agent's reconnect: %v, want an authorization violation", err)
	}
	// Also with the file the agent itself uses.
	if nc, err := dialHub(t, env, nats.UserCredentials(filepath.Join(a.Dir, "state", "agent.creds"))); err == nil {
		nc.Close()
		t.Fatal("removed agent reconnected with its state dir creds")
	} else if !isAuthViolation(err) {
		t.Fatalf("removed agent's reconnect: %v, want an authorization violation", err)
	}
}

// TestAgentIsolation: an agent's credentials cannot publish on another
// agent's subjects (nor as the hub, nor to the admin or JetStream APIs),
// and cannot subscribe to another agent's messages or replies.
func TestAgentIsolation(t *testing.T) {
	t.Parallel()
	env := newEnv(t, "")
	c := ctx(t)
	alice, err := env.NewAgent(c, "alice", []string{"alice.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.NewAgent(c, "bob", []string{"bob.example.test"}); err != nil {
		t.Fatal(err)
	}
	rec := &errRecorder{}
	nc, err := asAgent(t, env, alice, nats.ErrorHandler(rec.handler))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// The credentials work for alice's own subjects: the hub answers.
	if err := helloErr(nc, "alice"); err != nil {
		t.Fatalf("alice's own hello: %v", err)
	}
	hub := asHub(t, env)

	t.Run("publish", func(t *testing.T) {
		cases := []struct{ name, subject string }{
			{"another agent's hello", shared.Up("bob", shared.VerbHello)},
			{"another agent's certificate request", shared.Up("bob", shared.VerbCertReq)},
			{"another agent's status", shared.Up("bob", shared.VerbStatus)},
			{"a result to another agent, as the hub", shared.Down("bob", shared.VerbResult)},
			{"credentials to itself, as the hub", shared.Down("alice", shared.VerbCreds)},
			{"the admin API", admin.Subject(admin.VerbAgentAdd)},
			{"the JetStream API", "$JS.API.STREAM.NAMES"},
			{"another agent's KV record", "$KV.certfleet_agents.bob"},
			{"the audit stream", "certfleet.audit.issued"},
			{"the request queue", "certfleet.queue.bob"},
			{"the system account", "$SYS.REQ.SERVER.PING"},
			{"an inbox", "_INBOX.hub.1"},
		}
		// What alice may publish, sent after each attempt: once the
		// observer has it, the forbidden message would have arrived first.
		sentinel := shared.Up("alice", "sentinel")
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := hub.SubscribeSync(tc.subject)
				if err != nil {
					t.Fatal(err)
				}
				defer got.Unsubscribe()
				mark, err := hub.SubscribeSync(sentinel)
				if err != nil {
					t.Fatal(err)
				}
				defer mark.Unsubscribe()
				if err := hub.Flush(); err != nil {
					t.Fatal(err)
				}
				if err := nc.Publish(tc.subject, []byte(`{"type":"forged"}`)); err != nil {
					t.Fatal(err)
				}
				if err := nc.Publish(sentinel, nil); err != nil {
					t.Fatal(err)
				}
				if _, err := mark.NextMsg(5 * time.Second); err != nil {
					t.Fatalf("sentinel: %v", err)
				}
				if m, err := got.NextMsg(10 * time.Millisecond); err == nil {
					t.Fatalf("alice's message reached %s: %q", m.Subject, m.Data)
				}
				want := fmt.Sprintf("permissions violation for publish to %q", tc.subject)
				if err := fleet.Await(c, 5*time.Second, func() (bool, error) { return rec.has(want), nil }); err != nil {
					t.Fatalf("no %q from the server", want)
				}
			})
		}
	})

	t.Run("subscribe", func(t *testing.T) {
		cases := []struct{ name, filter, probe string }{
			{"another agent's down subjects", "agent.bob.down.>", shared.Down("bob", shared.VerbResult)},
			{"another agent's requests", "agent.bob.up.>", shared.Up("bob", shared.VerbCertReq)},
			{"another agent's replies", "_INBOX.bob.>", "_INBOX.bob.x1"},
			{"every agent's results", "agent.*.down.result", shared.Down("bob", shared.VerbResult)},
			{"every reply", "_INBOX.>", "_INBOX.bob.x2"},
			{"the admin API", "certfleet.admin.>", admin.Subject(admin.VerbAgentList)},
			{"the KV buckets", "$KV.>", "$KV.certfleet_agents.bob"},
			{"the JetStream API", "$JS.API.>", "$JS.API.INFO"},
			{"the system account", "$SYS.>", "$SYS.ACCOUNT.x.CONNECT"},
			{"everything", ">", "anything.at.all"},
		}
		sentinel := shared.Down("alice", "sentinel")
		mark, err := nc.SubscribeSync(sentinel)
		if err != nil {
			t.Fatal(err)
		}
		defer mark.Unsubscribe()
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := nc.SubscribeSync(tc.filter)
				if err != nil {
					t.Fatal(err)
				}
				defer got.Unsubscribe()
				if err := nc.Flush(); err != nil {
					t.Fatal(err)
				}
				want := fmt.Sprintf("permissions violation for subscription to %q", tc.filter)
				if err := fleet.Await(c, 5*time.Second, func() (bool, error) { return rec.has(want), nil }); err != nil {
					t.Fatalf("no %q from the server", want)
				}
				if err := hub.Publish(tc.probe, []byte("secret")); err != nil {
					t.Fatal(err)
				}
				if err := hub.Publish(sentinel, nil); err != nil {
					t.Fatal(err)
				}
				if _, err := mark.NextMsg(5 * time.Second); err != nil {
					t.Fatalf("sentinel: %v", err)
				}
				if m, err := got.NextMsg(10 * time.Millisecond); err == nil {
					t.Fatalf("alice received %s: %q", m.Subject, m.Data)
				}
			})
		}
	})
}

// TestPlaintextRefused: the hub's NATS port speaks only TLS; a client
// that talks plain NATS protocol gets no further than the greeting.
func TestPlaintextRefused(t *testing.T) {
	t.Parallel()
	env := newEnv(t, "")
	u, err := url.Parse(env.HubRun().NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("no greeting: %v", err)
	}
	var info struct {
		TLSRequired bool `json:"tls_required"`
	}
	if !strings.HasPrefix(line, "INFO ") || json.Unmarshal([]byte(strings.TrimPrefix(line, "INFO ")), &info) != nil {
		t.Fatalf("greeting %q", line)
	}
	if !info.TLSRequired {
		t.Fatalf("server does not require TLS: %s", line)
	}
	if _, err := io.WriteString(conn, "CONNECT {\"verbose\":true,\"pedantic\":false,\"protocol\":1}\r\nPING\r\nSUB > 1\r\n"); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server kept the plaintext connection open (read so far: %q)", rest)
	}
	if strings.Contains(string(rest), "PONG") || strings.Contains(string(rest), "+OK") {
		t.Fatalf("server answered a plaintext client: %q", rest)
	}
}

// TestExpiredCredsRefused: an agent JWT past its expiry is refused, and a
// connection made with it is closed when it expires. The JWT is signed
// with the hub's own scoped key for the agent's real key, short-lived
// (creds_ttl cannot go below a minute).
func TestExpiredCredsRefused(t *testing.T) {
	t.Parallel()
	env := newEnv(t, "")
	c := ctx(t)
	a, err := env.NewAgent(c, "short1", []string{"short1.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := natsauth.Load(datadir.Dir(env.HubDataDir).Auth())
	if err != nil {
		t.Fatal(err)
	}
	_, seed, pub := enrollmentCreds(t, a)
	tok, exp, err := auth.RenewAgentJWT("short1", pub, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	connect := func() (*nats.Conn, error) {
		return dialHub(t, env, nats.UserJWTAndSeed(tok, string(seed)))
	}
	nc, err := connect()
	if err != nil {
		t.Fatalf("connect before expiry: %v", err)
	}
	defer nc.Close()
	if err := helloErr(nc, "short1"); err != nil {
		t.Fatalf("hello before expiry: %v", err)
	}
	if err := fleet.Await(c, 10*time.Second, func() (bool, error) { return nc.IsClosed(), nil }); err != nil {
		t.Fatal("connection outlived its JWT")
	}
	t.Logf("connection closed %s after its JWT expired (last error: %v)", time.Since(exp).Round(time.Millisecond), nc.LastError())
	// JWT expiry has one-second resolution and the server still accepts a
	// JWT during the second it expires in; past that it must refuse.
	select {
	case <-time.After(time.Until(exp.Add(time.Second + 100*time.Millisecond))):
	case <-c.Done():
		t.Fatal(c.Err())
	}
	if nc2, err := connect(); err == nil {
		nc2.Close()
		t.Fatal("expired JWT accepted")
	} else if !isAuthViolation(err) {
		t.Fatalf("expired JWT: %v, want an authorization violation", err)
	}
}

// TestSecretFileModes: the hub's data dir after init, the enrollment file
// and the agent's state are private.
func TestSecretFileModes(t *testing.T) {
	t.Parallel()
	env := newEnv(t, "")
	a, err := env.NewAgent(ctx(t), "modes1", []string{"modes1.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	mode := func(p string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	for _, d := range []string{env.HubDataDir, datadir.Dir(env.HubDataDir).Auth(), datadir.Dir(env.HubDataDir).TLS(), filepath.Join(a.Dir, "state")} {
		if m := mode(d); m != 0o700 {
			t.Errorf("%s: mode %v, want 0700", d, m)
		}
	}
	entries, err := os.ReadDir(datadir.Dir(env.HubDataDir).Auth())
	if err != nil {
		t.Fatal(err)
	}
	files := []string{
		filepath.Join(datadir.Dir(env.HubDataDir).TLS(), datadir.ServerKeyFile),
		filepath.Join(datadir.Dir(env.HubDataDir).TLS(), datadir.CAKeyFile),
		filepath.Join(a.Dir, a.Name+".enroll.json"),
		filepath.Join(a.Dir, "state", "agent.creds"),
		filepath.Join(a.Dir, "state", "enrollment.json"),
	}
	for _, e := range entries {
		files = append(files, filepath.Join(datadir.Dir(env.HubDataDir).Auth(), e.Name()))
	}
	for _, f := range files {
		if m := mode(f); m != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, m)
		}
	}
}

// TestCredsRotation: the hub re-issues a connected agent's JWT before it
// expires; the agent answers, reconnects with the new JWT at once (NATS
// fixes a connection's expiry at connect) and keeps working past the
// original expiry, and the hub records the new expiry. creds_ttl is at its minimum, one
// minute, so this test runs a little over a minute.
func TestCredsRotation(t *testing.T) {
	t.Parallel()
	env := newEnv(t, "[agents]\ncreds_ttl = \"1m\"\n")
	c := ctx(t)
	a, err := env.NewAgent(c, "rot1", []string{"rot1.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, pub := enrollmentCreds(t, a)
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		t.Fatal(err)
	}
	original := time.Unix(uc.Expires, 0)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	if err := fleet.Await(c, 20*time.Second, func() (bool, error) {
		return strings.Contains(agentLog(a), "connected to hub"), nil
	}); err != nil {
		t.Fatalf("agent never connected:\n%s", agentLog(a))
	}

	// The agent's creds file gets a JWT for the same key that outlives the
	// original one.
	credsFile := filepath.Join(a.Dir, "state", "agent.creds")
	if err := fleet.Await(c, time.Until(original)+5*time.Second, func() (bool, error) {
		b, err := os.ReadFile(credsFile)
		if err != nil {
			return false, nil
		}
		tok, err := jwt.ParseDecoratedJWT(b)
		if err != nil {
			return false, nil
		}
		uc, err := jwt.DecodeUserClaims(tok)
		return err == nil && uc.Subject == pub && time.Unix(uc.Expires, 0).After(original), nil
	}); err != nil {
		t.Fatalf("the agent's creds were not renewed before %s\nhub log:\n%s", original.Format(time.RFC3339), env.HubProc().LogTail(40))
	}
	// Past the original expiry the agent is connected, and was never
	// refused.
	select {
	case <-time.After(time.Until(original.Add(3 * time.Second))):
	case <-c.Done():
		t.Fatal(c.Err())
	}
	sys, err := dialHub(t, env, nats.UserCredentials(filepath.Join(datadir.Dir(env.HubDataDir).Auth(), datadir.SystemCreds)))
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	if err := fleet.Await(c, 10*time.Second, func() (bool, error) {
		ids, err := agentConns(sys, "rot1")
		return len(ids) == 1, err
	}); err != nil {
		t.Fatalf("agent not connected after its original JWT expired: %v\nagent log:\n%s", err, agentLog(a))
	}
	// The agent swaps the new JWT in at once (ForceReconnect): the server
	// never had to cut it at the old expiry.
	if log := strings.ToLower(agentLog(a)); strings.Contains(log, "authorization violation") || strings.Contains(log, "authentication expired") {
		t.Fatalf("the agent was refused at some point:\n%s", agentLog(a))
	}
	out, err := env.Hub(c, "agent", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list admin.AgentList
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Agents) != 1 {
		t.Fatalf("agent list: %v\n%s", err, out)
	}
	if !list.Agents[0].CredsExpire.After(original) {
		t.Fatalf("hub records creds expiry %s, not after the original %s: the agent's acceptance never reached it\nhub log:\n%s",
			list.Agents[0].CredsExpire, original, env.HubProc().LogTail(40))
	}
}

// agentConns returns the ids of the open connections named id, asking the
// server through the system account.
func agentConns(sys *nats.Conn, id string) ([]uint64, error) {
	req, _ := json.Marshal(server.ConnzOptions{Limit: 4096})
	m, err := sys.Request("$SYS.REQ.SERVER.PING.CONNZ", req, 5*time.Second)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Data server.Connz `json:"data"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return nil, err
	}
	var ids []uint64
	for _, ci := range resp.Data.Conns {
		if ci.Name == id {
			ids = append(ids, ci.Cid)
		}
	}
	return ids, nil
}

// agentLog returns the end of an agent's log.
func agentLog(a *fleet.Agent) string {
	b, err := os.ReadFile(filepath.Join(a.Dir, "agent.log"))
	if err != nil {
		return ""
	}
	s := string(b)
	if len(s) > 8000 {
		s = s[len(s)-8000:]
	}
	return s
}
