package agent_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/agent"
	"github.com/certfleet/certfleet/agent/control"
	"github.com/certfleet/certfleet/agent/install"
	"github.com/certfleet/certfleet/agent/internal/fakehub"
	"github.com/certfleet/certfleet/agent/internal/fsutil"
	"github.com/certfleet/certfleet/agent/internal/testca"
	"github.com/certfleet/certfleet/agent/keys"
	"github.com/certfleet/certfleet/agent/state"
	"github.com/certfleet/certfleet/internal/keytype"
	"github.com/certfleet/certfleet/shared"
)

func TestIssueInstallReloadReport(t *testing.T) {
	w := newWorld(t)
	startAgent(t, w.cfg)

	reqs := w.waitRequests(t, 1)
	r := reqs[0]
	if r.AgentID != agentID {
		t.Errorf("request on agent %q, want %q", r.AgentID, agentID)
	}
	if r.MsgID != agentID+"."+r.Req.RequestID {
		t.Errorf("queued with Nats-Msg-Id %q, want agent and request id %q", r.MsgID, agentID+"."+r.Req.RequestID)
	}
	if r.Req.Reason != shared.ReasonNew || r.Req.CertName != "web" || r.Req.Replaces != "" {
		t.Errorf("request reason %q cert %q replaces %q", r.Req.Reason, r.Req.CertName, r.Req.Replaces)
	}
	serial := w.waitInstalled(t, "")
	if res := w.hub.Result(agentID, r.Req.RequestID); res == nil || res.Serial != serial {
		t.Fatalf("reported serial %s is not the issued one (%+v)", serial, res)
	}

	b := w.cfg.Certificates[0]
	leaf := installedLeaf(t, b)
	if install.SerialHex(leaf) != serial || !install.SameNames(leaf.DNSNames, b.Names) {
		t.Errorf("installed leaf serial %x names %v", leaf.SerialNumber, leaf.DNSNames)
	}
	chain, _ := os.ReadFile(b.Chain)
	full, _ := os.ReadFile(b.Fullchain)
	certPEM, _ := os.ReadFile(b.Cert)
	if !bytes.Equal(chain, testca.PEM(w.hub.CA.Inter)) {
		t.Error("chain file is not the intermediate")
	}
	if !bytes.Equal(full, append(certPEM, chain...)) {
		t.Error("fullchain is not cert + chain")
	}
	if runtime.GOOS != "windows" {
		for path, want := range map[string]os.FileMode{b.Key: 0o600, b.Cert: 0o644, b.Chain: 0o644, w.cfg.StatePath(): 0o600, w.cfg.CredsPath(): 0o600, w.cfg.StateDir: 0o700} {
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: mode %v (err %v), want %v", path, fi.Mode().Perm(), err, want)
			}
		}
	}
	if got := reloads(t, w.reloadLog); !slices.Equal(got, []string{"reload"}) {
		t.Errorf("reloads %v, want one", got)
	}
	if m, _ := filepath.Glob(filepath.Join(w.cfg.StateDir, "pending-*")); len(m) != 0 {
		t.Errorf("pending keys left: %v", m)
	}
	c := loadState(t, w.cfg).Certificates["web"]
	if c == nil || c.Serial != serial || c.LastResult != state.ResultOK || c.Pending != nil {
		t.Errorf("state after install: %+v", c)
	}
	if w.hub.Hellos(agentID) < 1 {
		t.Error("no hello sent")
	}
	if c != nil && (c.LastReload == nil || !c.LastReload.OK || !strings.HasPrefix(c.LastReload.Hook, "run: ")) {
		t.Errorf("reload outcome in state: %+v", c.LastReload)
	}
	// The hub learns how the reload went from the status report.
	w.hub.Wait(t, 20*time.Second, "a status report with the reload outcome", func() bool {
		reps := w.hub.Statuses(agentID)
		if len(reps) == 0 || len(reps[len(reps)-1].Certificates) == 0 {
			return false
		}
		r := reps[len(reps)-1].Certificates[0].Reload
		return r != nil && r.OK && r.Error == "" && !r.At.IsZero()
	})
}

func TestRestartKeepsCertificate(t *testing.T) {
	w := newWorld(t)
	stop := startAgent(t, w.cfg)
	serial := w.waitInstalled(t, "")
	stop()

	startAgent(t, w.cfg)
	// Three status reports from the new run, each after at least one
	// check of the block, and still only the first request.
	w.waitStatuses(t, 3)
	if n := len(w.hub.Requests()); n != 1 {
		t.Fatalf("%d requests after restart, want 1", n)
	}
	last := w.hub.Statuses(agentID)
	if got := last[len(last)-1].Certificates[0].Serial; got != serial {
		t.Errorf("reported serial %s after restart, want %s", got, serial)
	}
	if got := reloads(t, w.reloadLog); len(got) != 1 {
		t.Errorf("reloads %v after restart, want one", got)
	}
}

func TestRestartWithLostStateKeepsCertificate(t *testing.T) {
	w := newWorld(t)
	stop := startAgent(t, w.cfg)
	serial := w.waitInstalled(t, "")
	stop()
	// A damaged state file is set aside; the files on disk still count.
	if err := os.WriteFile(w.cfg.StatePath(), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	startAgent(t, w.cfg)
	w.waitStatuses(t, 3)
	if n := len(w.hub.Requests()); n != 1 {
		t.Fatalf("%d requests after losing state, want 1", n)
	}
	if c := loadState(t, w.cfg).Certificates["web"]; c == nil || c.Serial != serial {
		t.Errorf("state not rebuilt from the installed files: %+v", c)
	}
	if m, _ := filepath.Glob(w.cfg.StatePath() + ".corrupt-*"); len(m) != 1 {
		t.Errorf("damaged state not set aside: %v", m)
	}
}

func TestNamesChangeMakesNewRequest(t *testing.T) {
	w := newWorld(t)
	stop := startAgent(t, w.cfg)
	first := w.waitInstalled(t, "")
	stop()

	cfg := w.cfg
	cfg.Certificates = slices.Clone(cfg.Certificates)
	cfg.Certificates[0].Names = []string{"www.example.org", "example.org", "api.example.org"}
	startAgent(t, cfg)
	reqs := w.waitRequests(t, 2)
	r := reqs[1].Req
	if r.Reason != shared.ReasonNamesChanged || r.Replaces != first {
		t.Errorf("second request reason %q replaces %q, want %q replacing %s", r.Reason, r.Replaces, shared.ReasonNamesChanged, first)
	}
	second := w.waitInstalled(t, first)
	leaf := installedLeaf(t, cfg.Certificates[0])
	if install.SerialHex(leaf) != second || len(leaf.DNSNames) != 3 {
		t.Errorf("installed %x with names %v", leaf.SerialNumber, leaf.DNSNames)
	}
}

func TestPermanentFailureWaitsForManualRenew(t *testing.T) {
	w := newWorld(t)
	w.hub.FailNext(fakehub.Failure{Code: shared.CodeNameNotAllowed, Message: `"www.example.org" is not in the allow list`})
	startAgent(t, w.cfg)
	w.hub.Wait(t, 15*time.Second, "failure in a status report", func() bool {
		for _, s := range w.hub.Statuses(agentID) {
			if c := s.Certificates[0]; c.LastResult == state.ResultFailed && strings.Contains(c.LastError, "allow list") {
				return true
			}
		}
		return false
	})
	w.waitStatuses(t, 3)
	if n := len(w.hub.Requests()); n != 1 {
		t.Fatalf("%d requests after a permanent failure, want 1 (no retry)", n)
	}
	c := loadState(t, w.cfg).Certificates["web"]
	if !c.Blocked || c.LastErrorCode != string(shared.CodeNameNotAllowed) {
		t.Errorf("state after permanent failure: blocked %v code %q", c.Blocked, c.LastErrorCode)
	}
	last := w.hub.Statuses(agentID)
	if cs := last[len(last)-1].Certificates[0]; !cs.Blocked || cs.LastErrorCode != shared.CodeNameNotAllowed || cs.Attempts != 1 || !cs.NextAttempt.IsZero() {
		t.Errorf("reported after a permanent failure: blocked %v code %q attempts %d next %s", cs.Blocked, cs.LastErrorCode, cs.Attempts, cs.NextAttempt)
	}
	if _, err := os.Stat(w.cfg.Certificates[0].Cert); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cert file exists after a failure: %v", err)
	}

	// The operator fixed the allow list and asks for a renewal.
	w.hub.Publish(t, shared.Down(agentID, shared.VerbRenew), shared.MustEncode(&shared.RenewCommand{CertName: "web", Reason: "operator"}))
	reqs := w.waitRequests(t, 2)
	if reqs[1].Req.Reason != shared.ReasonManual {
		t.Errorf("renew command made a %q request", reqs[1].Req.Reason)
	}
	w.waitInstalled(t, "")
}

func TestTransientFailureRetriesAfterRetryAfter(t *testing.T) {
	w := newWorld(t)
	retryAfter := time.Now().Add(1500 * time.Millisecond).Truncate(time.Second).Add(time.Second)
	w.hub.FailNext(fakehub.Failure{Code: shared.CodeRateLimited, Message: "slow down", RetryAfter: retryAfter})
	startAgent(t, w.cfg)
	w.hub.Wait(t, 10*time.Second, "the failure reported", func() bool {
		for _, s := range w.hub.Statuses(agentID) {
			if cs := s.Certificates[0]; cs.LastResult == state.ResultFailed {
				if cs.LastErrorCode != shared.CodeRateLimited || cs.Attempts != 1 || !cs.NextAttempt.Equal(retryAfter) || cs.Blocked {
					t.Errorf("reported code %q attempts %d next %s blocked %v, want rate_limited, 1, %s, false",
						cs.LastErrorCode, cs.Attempts, cs.NextAttempt, cs.Blocked, retryAfter)
				}
				return true
			}
		}
		return false
	})
	reqs := w.waitRequests(t, 2)
	if reqs[1].Received.Before(retryAfter) {
		t.Errorf("retried at %s, before RetryAfter %s", reqs[1].Received.Format(time.RFC3339Nano), retryAfter.Format(time.RFC3339Nano))
	}
	if reqs[0].Req.RequestID == reqs[1].Req.RequestID {
		t.Error("retry reused the failed request id")
	}
	w.waitInstalled(t, "")
}

func TestOfflineAgentFetchesResultOnReconnect(t *testing.T) {
	w := newWorld(t)
	w.hub.SetHold(true)
	stop := startAgent(t, w.cfg)
	w.waitRequests(t, 1)
	stop()

	// Issued and pushed while nobody listens.
	w.hub.ReleaseHeld()
	fetches := w.hub.Fetches()
	startAgent(t, w.cfg)
	w.waitInstalled(t, "")
	if n := len(w.hub.Requests()); n != 1 {
		t.Errorf("%d requests, want the one made before going offline", n)
	}
	if w.hub.Fetches() <= fetches {
		t.Error("result not fetched")
	}
}

func TestResultPickedUpByPollingWithoutPush(t *testing.T) {
	w := newWorld(t)
	w.hub.SetPush(false)
	startAgent(t, w.cfg)
	w.waitInstalled(t, "")
	if w.hub.Fetches() == 0 {
		t.Error("installed without fetching, but nothing was pushed")
	}
}

func TestMalformedMessagesFromHubAreIgnored(t *testing.T) {
	w := newWorld(t)
	w.hub.SetHold(true)
	startAgent(t, w.cfg)
	req := w.waitRequests(t, 1)[0].Req
	b := w.cfg.Certificates[0]

	// A chain for somebody else's key, under the pending request's id.
	other, _ := keys.Generate(keytype.EC256)
	wrongChain, _, err := w.hub.CA.Issue(testca.Leaf{Pub: other.Public(), Names: b.Names})
	if err != nil {
		t.Fatal(err)
	}
	result := shared.Down(agentID, shared.VerbResult)
	for _, m := range []struct {
		subject string
		data    []byte
	}{
		{result, []byte("not json")},
		{result, []byte(`{"type":"io.certfleet.v1.cert_result"}`)},
		{result, []byte(`{"type":"io.certfleet.v1.cert_result","request_id":"` + req.RequestID + `","status":"issued"}`)},
		{result, []byte(`{"type":"io.certfleet.v9.cert_result","request_id":"` + req.RequestID + `","status":"issued","chain":"x"}`)},
		{result, shared.MustEncode(&shared.CertResult{RequestID: "unknownrequest00", Status: shared.StatusIssued, Chain: "garbage"})},
		{shared.Down(agentID, shared.VerbRenew), []byte(`{"type":"io.certfleet.v1.renew","cert_name":"../etc"}`)},
		{shared.Down(agentID, shared.VerbCreds), []byte(`{"type":"io.certfleet.v1.creds","jwt":""}`)},
		{shared.Down(agentID, "unknownverb"), []byte(`{}`)},
		{result, shared.MustEncode(&shared.CertResult{RequestID: req.RequestID, CertName: "web", Status: shared.StatusIssued, Chain: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"})},
	} {
		w.hub.Publish(t, m.subject, m.data)
	}
	// Only the last one is well-formed and for the pending request: it
	// fails verification, and so does the chain for another key.
	w.hub.Wait(t, 10*time.Second, "verification failure recorded", func() bool {
		c := loadState(t, w.cfg).Certificates["web"]
		return c != nil && c.LastErrorCode == "verify_failed"
	})
	reqs := w.waitRequests(t, 2)
	w.hub.Publish(t, result, shared.MustEncode(&shared.CertResult{RequestID: reqs[1].Req.RequestID, CertName: "web", Status: shared.StatusIssued, Chain: wrongChain}))
	w.waitRequests(t, 3)
	for _, p := range b.Paths() {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s written from a rejected result (err %v)", p, err)
		}
	}
	if got := reloads(t, w.reloadLog); len(got) != 0 {
		t.Errorf("reload ran for rejected results: %v", got)
	}
	// The agent is alive and installs a proper answer.
	w.hub.ReleaseHeld()
	w.waitInstalled(t, "")
}

func TestRenewCommandFromHub(t *testing.T) {
	w := newWorld(t)
	startAgent(t, w.cfg)
	first := w.waitInstalled(t, "")
	w.hub.Publish(t, shared.Down(agentID, shared.VerbRenew), shared.MustEncode(&shared.RenewCommand{}))
	reqs := w.waitRequests(t, 2)
	if reqs[1].Req.Reason != shared.ReasonManual || reqs[1].Req.Replaces != first {
		t.Errorf("renew request reason %q replaces %q", reqs[1].Req.Reason, reqs[1].Req.Replaces)
	}
	w.waitInstalled(t, first)
	if got := reloads(t, w.reloadLog); len(got) != 2 {
		t.Errorf("reloads %v, want two", got)
	}
}

func TestRenewThroughControlSocket(t *testing.T) {
	requireUnixSockets(t)
	w := newWorld(t)
	startAgent(t, w.cfg)
	first := w.waitInstalled(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	outs, err := control.Renew(ctx, w.cfg.ControlSocket(), "web")
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	if len(outs) != 1 || outs[0].Status != shared.StatusIssued || outs[0].Serial == first || outs[0].Cert != "web" {
		t.Fatalf("outcomes %+v", outs)
	}
	if got := install.SerialHex(installedLeaf(t, w.cfg.Certificates[0])); got != outs[0].Serial {
		t.Errorf("installed %s, reported %s", got, outs[0].Serial)
	}
	if _, err := control.Renew(ctx, w.cfg.ControlSocket(), "nosuch"); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("renew of unknown block: %v", err)
	}
}

func TestRenewOnceWithoutDaemon(t *testing.T) {
	w := newWorld(t)
	a, err := agent.New(w.cfg, fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	outs, err := a.RenewOnce(ctx, "")
	if err != nil || len(outs) != 1 || outs[0].Status != shared.StatusIssued {
		t.Fatalf("renew once: %+v, %v", outs, err)
	}
	installedLeaf(t, w.cfg.Certificates[0])
	// The lock was released: it can run again.
	outs2, err := a.RenewOnce(ctx, "web")
	if err != nil || outs2[0].Serial == outs[0].Serial {
		t.Fatalf("second renew once: %+v, %v", outs2, err)
	}
}

func TestReloadFailureRestoresPreviousCertificate(t *testing.T) {
	requireUnixSockets(t)
	w := newWorld(t)
	stop := startAgent(t, w.cfg)
	first := w.waitInstalled(t, "")
	stop()
	before := map[string][]byte{}
	for _, p := range w.cfg.Certificates[0].Paths() {
		before[p], _ = os.ReadFile(p)
	}

	cfg := w.cfg
	cfg.Certificates = slices.Clone(cfg.Certificates)
	cfg.Certificates[0].Reload = reloadArgv(w.reloadLog, 1)
	startAgent(t, cfg)
	w.waitStatuses(t, 1) // connected, so the control socket is up
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	outs, err := control.Renew(ctx, cfg.ControlSocket(), "web")
	if err == nil || len(outs) != 1 || outs[0].Status != shared.StatusFailed || !strings.Contains(outs[0].Error, "reload") {
		t.Fatalf("renew with failing reload: %+v, %v", outs, err)
	}
	for p, data := range before {
		if now, _ := os.ReadFile(p); !bytes.Equal(now, data) {
			t.Errorf("%s changed although the reload failed", p)
		}
	}
	if got := install.SerialHex(installedLeaf(t, cfg.Certificates[0])); got != first {
		t.Errorf("installed serial %s, want the previous %s", got, first)
	}
	if got := reloads(t, w.reloadLog); !slices.Equal(got, []string{"reload", "reload", "rollback"}) {
		t.Errorf("reload log %v, want reload, failed reload, rollback reload", got)
	}
	c := loadState(t, cfg).Certificates["web"]
	if c.LastErrorCode != "reload_failed" || c.Serial != first || c.Pending == nil {
		t.Errorf("state after failed reload: code %q serial %s pending %v", c.LastErrorCode, c.Serial, c.Pending)
	}
	if r := c.LastReload; r == nil || r.OK || !strings.Contains(r.Error, "reload refused by test") {
		t.Errorf("reload outcome after a failed reload: %+v", r)
	}
	if got := agent.CertStatuses(cfg, loadState(t, cfg), time.Now())[0].Reload; got == nil || got.OK {
		t.Errorf("status report's reload outcome: %+v", got)
	}
}

func TestSecondAgentOnStateDirRefused(t *testing.T) {
	w := newWorld(t)
	startAgent(t, w.cfg)
	w.waitInstalled(t, "")
	a, err := agent.New(w.cfg, fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(context.Background()); !errors.Is(err, fsutil.ErrLocked) {
		t.Fatalf("second agent: %v, want ErrLocked", err)
	}
}

func TestNotEnrolled(t *testing.T) {
	w := newWorld(t)
	os.Remove(w.cfg.EnrollmentPath())
	a, _ := agent.New(w.cfg, fastOptions())
	if err := a.Run(context.Background()); !errors.Is(err, agent.ErrNotEnrolled) {
		t.Fatalf("run without enrollment: %v", err)
	}
}

func TestCredentialsUpdate(t *testing.T) {
	w := newWorld(t)
	startAgent(t, w.cfg)
	w.waitInstalled(t, "")
	hellos := w.hub.Hellos(agentID)
	otherJWT := fakeJWT("UAOTHERKEYOTHERKEYOTHERKEYOTHERKEYOTHERKEYOTHERKEYOTHERK", time.Now().Add(time.Hour))
	goodJWT := fakeJWT(w.seedPub, time.Now().Add(48*time.Hour))
	if err := w.hub.SendCreds(agentID, otherJWT, time.Time{}); shared.CodeOf(err) != shared.CodeBadRequest || !strings.Contains(err.Error(), "not this agent's key") {
		t.Fatalf("credentials for another key: answer %v, want bad_request naming the key mismatch", err)
	}
	if err := w.hub.SendCreds(agentID, goodJWT, time.Time{}); err != nil {
		t.Fatalf("good credentials: answer %v, want an Ack", err)
	}
	data, _ := os.ReadFile(w.cfg.CredsPath())
	if !strings.Contains(string(data), goodJWT) {
		t.Error("credentials not rewritten before the Ack")
	}
	if strings.Contains(string(data), otherJWT) {
		t.Error("credentials for another key were accepted")
	}
	if !strings.Contains(string(data), "USER NKEY SEED") {
		t.Error("seed lost from the credentials file")
	}
	// The agent reconnected with them at once: it greets the hub again.
	w.hub.Wait(t, 10*time.Second, "hello after reconnecting", func() bool {
		return w.hub.Hellos(agentID) > hellos
	})
}

func TestRenewsWhenHubAdviceIsDue(t *testing.T) {
	w := newWorld(t)
	var renewAt time.Time
	w.hub.SetRenewAt(func(_, _ time.Time) time.Time {
		renewAt = time.Now().Add(time.Second)
		w.hub.SetRenewAt(nil) // advice for the first certificate only
		return renewAt
	})
	startAgent(t, w.cfg)
	first := w.waitInstalled(t, "")
	reqs := w.waitRequests(t, 2)
	if r := reqs[1]; r.Req.Reason != shared.ReasonRenew || r.Req.Replaces != first || r.Received.Before(renewAt) {
		t.Errorf("renewal: reason %q replaces %q at %s (advice %s)", r.Req.Reason, r.Req.Replaces, r.Received, renewAt)
	}
	w.waitInstalled(t, first)
}

func TestPastRenewalAdviceIgnored(t *testing.T) {
	w := newWorld(t)
	w.hub.SetRenewAt(func(nb, _ time.Time) time.Time { return nb.Add(-time.Hour) })
	startAgent(t, w.cfg)
	w.waitInstalled(t, "")
	w.waitStatuses(t, 3)
	if n := len(w.hub.Requests()); n != 1 {
		t.Fatalf("%d requests: past advice made the agent renew at once", n)
	}
}

func TestRenewBeforeOverridesAdvice(t *testing.T) {
	w := newWorld(t)
	// Certificates valid from a minute ago for 70 s, renew_before 9 s: due
	// about a second after issuance, before what the hub advises.
	w.hub.SetLifetime(70 * time.Second)
	w.hub.SetRenewAt(func(_, na time.Time) time.Time { return na.Add(-time.Second) })
	cfg := w.cfg
	cfg.Certificates = slices.Clone(cfg.Certificates)
	cfg.Certificates[0].RenewBefore.Duration = 9 * time.Second
	startAgent(t, cfg)
	first := w.waitInstalled(t, "")
	reqs := w.waitRequests(t, 2)
	if reqs[1].Req.Reason != shared.ReasonRenew || reqs[1].Req.Replaces != first {
		t.Errorf("renewal: %+v", reqs[1].Req)
	}
	if d := reqs[1].Received.Sub(reqs[0].Received); d > 5*time.Second {
		t.Errorf("renewed %s after issuance; renew_before should have made it ~1 s", d)
	}
}

// TestGreetRetry: a hub that does not answer yet (still starting after a
// restart) is greeted again with back-off, long before the next poll, and
// gets the status report as soon as it answers.
func TestGreetRetry(t *testing.T) {
	w := newWorld(t)
	w.hub.SetMute(true)
	opts := fastOptions()
	opts.PollInterval, opts.StatusInterval, opts.RequestTimeout = time.Hour, time.Hour, 300*time.Millisecond
	startAgentWith(t, w.cfg, opts)
	w.hub.Wait(t, 15*time.Second, "a second hello without a poll", func() bool { return w.hub.Hellos(agentID) >= 2 })
	w.hub.SetMute(false)
	w.hub.Wait(t, 15*time.Second, "a status report once the hub answers", func() bool { return len(w.hub.Statuses(agentID)) >= 1 })
}
