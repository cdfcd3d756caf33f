package simfleet

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"github.com/certfleet/certfleet/agent/client"
	"github.com/certfleet/certfleet/agent/keys"
	"github.com/certfleet/certfleet/internal/keytype"
	"github.com/certfleet/certfleet/shared"
)

// certName is the name of every simulated agent's one certificate block.
const certName = "tls"

// Agent is one simulated agent. Its loop goroutine owns the key, the
// pending request and the certificate; the atomics are what the fleet
// reads from outside.
type Agent struct {
	ID string
	// Names of its certificate; empty: it holds none and requests none.
	Names []string

	fleet *Fleet
	// cl is set once Start has it; the client may connect (and call
	// OnConnect) before then, so the loop reads it through the pointer.
	cl     atomic.Pointer[client.Client]
	events chan func(context.Context)

	// Unix nanoseconds of the last connect, the last hello the hub
	// answered, the last certificate installed (0: never).
	connectedAt atomic.Int64
	greetedAt   atomic.Int64
	certAt      atomic.Int64
	reportedAt  atomic.Int64
	requestedAt atomic.Int64
	// failures counts failed certificate results and refused requests.
	failures atomic.Int64
	lastErr  atomic.Pointer[string]

	// Owned by the loop.
	key     crypto.Signer
	pending *pending
	cert    *x509.Certificate
	lastTry time.Time
	greeted bool
	dirty   bool // a status report is owed
	talkAt  time.Time
	talkTry int
	retryAt time.Time // a new request after a failure
	streak  int       // failed requests since the last success
}

// pending is a request the hub has not answered with a result yet.
type pending struct {
	req       shared.CertRequest
	key       crypto.Signer
	published bool
	nextTry   time.Time
	tries     int
}

// Connected reports whether the agent's connection is up.
func (a *Agent) Connected() bool {
	cl := a.cl.Load()
	return cl != nil && cl.Connected()
}

// ConnectedAt, GreetedAt and CertAt return when the agent last
// connected, was greeted and installed a certificate (zero: never).
func (a *Agent) ConnectedAt() time.Time { return unixNano(a.connectedAt.Load()) }
func (a *Agent) GreetedAt() time.Time   { return unixNano(a.greetedAt.Load()) }
func (a *Agent) CertAt() time.Time      { return unixNano(a.certAt.Load()) }

// Took returns how long the last certificate took, from the request to
// the verified result (0 while one is pending or none was made).
func (a *Agent) Took() time.Duration {
	req, got := a.requestedAt.Load(), a.certAt.Load()
	if req == 0 || got < req {
		return 0
	}
	return time.Duration(got - req)
}

func unixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// GreetedSince reports whether the hub answered a hello at or after t.
func (a *Agent) GreetedSince(t time.Time) bool { return a.greetedAt.Load() >= t.UnixNano() }

// ConnectedSince reports whether the agent is connected on a connection
// made at or after t.
func (a *Agent) ConnectedSince(t time.Time) bool {
	return a.Connected() && a.connectedAt.Load() >= t.UnixNano()
}

// ReportedSince reports whether the hub took a status report sent at or
// after t.
func (a *Agent) ReportedSince(t time.Time) bool { return a.reportedAt.Load() >= t.UnixNano() }

// CertSince reports whether a certificate was installed at or after t.
func (a *Agent) CertSince(t time.Time) bool { return a.certAt.Load() >= t.UnixNano() }

// HasCert reports whether the agent holds a certificate.
func (a *Agent) HasCert() bool { return a.certAt.Load() != 0 }

// Failures returns how many requests failed, and the last error.
func (a *Agent) Failures() (int64, string) {
	var last string
	if p := a.lastErr.Load(); p != nil {
		last = *p
	}
	return a.failures.Load(), last
}

// HandleResult implements client.Handler.
func (a *Agent) HandleResult(r *shared.CertResult) {
	a.post(func(ctx context.Context) { a.onResult(ctx, r) })
}

// HandleRenew implements client.Handler.
func (a *Agent) HandleRenew(r *shared.RenewCommand) {
	a.post(func(ctx context.Context) {
		if r.CertName == "" || r.CertName == certName {
			a.request(ctx, shared.ReasonManual)
		}
	})
}

// Renew makes the agent request a certificate now: its first, or a
// renewal as its renewal timer would.
func (a *Agent) Renew() {
	a.post(func(ctx context.Context) {
		reason := shared.ReasonRenew
		if a.cert == nil {
			reason = shared.ReasonNew
		}
		a.request(ctx, reason)
	})
}

// post hands f to the loop; it waits while the loop runs.
func (a *Agent) post(f func(context.Context)) {
	select {
	case a.events <- f:
	case <-a.fleet.done:
	}
}

// run is the agent's loop: the one goroutine that owns its state, as in
// the real agent.
func (a *Agent) run(ctx context.Context) {
	opts := a.fleet.opts
	if len(a.Names) > 0 && opts.RequestOnStart {
		a.request(ctx, shared.ReasonNew)
	}
	status := time.NewTicker(opts.StatusInterval)
	defer status.Stop()
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-a.events:
			f(ctx)
		case <-status.C:
			a.dirty = true
		case <-wake.C:
		}
		a.step(ctx)
		a.arm(wake)
	}
}

// onConnect greets the hub again and moves a pending request along at
// once, as the agent does after every (re)connect.
func (a *Agent) onConnect(ctx context.Context) {
	a.connectedAt.Store(time.Now().UnixNano())
	a.greeted, a.talkTry, a.talkAt = false, 0, time.Time{}
	if a.pending != nil {
		a.pending.nextTry = time.Time{}
	}
	a.dirty = true
}

// step does what is due: hello, the pending request, a new request after
// a failure, the status report.
func (a *Agent) step(ctx context.Context) {
	now := time.Now()
	if !a.Connected() {
		return
	}
	if !a.greeted && !now.Before(a.talkAt) {
		if !a.hello(ctx) {
			return
		}
	}
	if a.pending == nil && !a.retryAt.IsZero() && !now.Before(a.retryAt) {
		a.retryAt = time.Time{}
		a.request(ctx, shared.ReasonNew)
	}
	if p := a.pending; p != nil && !now.Before(p.nextTry) {
		if !p.published {
			a.publish(ctx)
		} else {
			a.fetch(ctx)
		}
	}
	if a.greeted && a.dirty && !now.Before(a.talkAt) {
		a.report(ctx)
	}
}

// arm sets wake to the earliest time something is due.
func (a *Agent) arm(wake *time.Timer) {
	next := time.Now().Add(time.Hour)
	for _, t := range []time.Time{a.talkAt, a.retryAt} {
		if !t.IsZero() && t.Before(next) {
			next = t
		}
	}
	if p := a.pending; p != nil && p.nextTry.Before(next) {
		next = p.nextTry
	}
	if !wake.Stop() {
		select {
		case <-wake.C:
		default:
		}
	}
	wake.Reset(max(time.Until(next), time.Millisecond))
}

func (a *Agent) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.fleet.opts.RequestTimeout)
}

// talkFailed backs off hello and status as the agent does: from 1 s,
// doubling to a minute, jittered.
func (a *Agent) talkFailed() {
	a.talkTry++
	d := min(time.Second<<min(a.talkTry-1, 6), time.Minute)
	a.talkAt = time.Now().Add(d/2 + rand.N(d/2+1))
}

func (a *Agent) hello(ctx context.Context) bool {
	cctx, cancel := a.callCtx(ctx)
	defer cancel()
	_, err := a.cl.Load().Hello(cctx, &shared.Hello{AgentVersion: a.fleet.opts.Version, Protocol: shared.ProtocolVersion,
		Hostname: a.ID + ".sim", OS: "linux", Arch: "amd64"})
	if err != nil && shared.CodeOf(err) != shared.CodeUnknownAgent {
		a.fleet.log.Debug("hello failed; will retry", "agent", a.ID, "err", err)
		a.talkFailed()
		return false
	}
	a.greeted, a.talkTry, a.talkAt = true, 0, time.Time{}
	a.greetedAt.Store(time.Now().UnixNano())
	return true
}

// request makes a new key and CSR and queues the request for publishing.
func (a *Agent) request(ctx context.Context, reason string) {
	if len(a.Names) == 0 {
		return
	}
	key, err := keys.Generate(keytype.EC256)
	if err == nil {
		var csr []byte
		csr, err = keys.CSR(key, a.Names)
		if err == nil {
			var replaces string
			if a.cert != nil {
				replaces = fmt.Sprintf("%x", a.cert.SerialNumber)
			}
			a.pending = &pending{key: key, req: shared.CertRequest{RequestID: shared.NewRequestID(), CertName: certName,
				CSR: string(csr), Reason: reason, Replaces: replaces, Created: time.Now().UTC()}}
			a.lastTry = time.Now()
			a.requestedAt.Store(a.lastTry.UnixNano())
			a.dirty = true
			a.step(ctx)
			return
		}
	}
	a.fail(fmt.Errorf("make request: %w", err))
}

func (a *Agent) publish(ctx context.Context) {
	p := a.pending
	cctx, cancel := a.callCtx(ctx)
	err := a.cl.Load().PublishCertRequest(cctx, &p.req)
	cancel()
	if err != nil {
		// Throttled, or the connection changed: try again shortly.
		p.tries++
		p.nextTry = time.Now().Add(jitter(min(time.Second<<min(p.tries-1, 6), time.Minute)))
		a.fleet.log.Debug("publish request failed; will retry", "agent", a.ID, "err", err)
		return
	}
	p.published, p.tries = true, 0
	// The result is pushed; the fetch is the safety net.
	p.nextTry = time.Now().Add(jitter(a.fleet.opts.PollInterval))
}

func (a *Agent) fetch(ctx context.Context) {
	p := a.pending
	cctx, cancel := a.callCtx(ctx)
	res, err := a.cl.Load().Fetch(cctx, p.req.RequestID)
	cancel()
	p.nextTry = time.Now().Add(jitter(a.fleet.opts.PollInterval))
	if err == nil {
		a.onResult(ctx, res)
	}
}

// onResult applies the result of the pending request; others are ignored.
func (a *Agent) onResult(_ context.Context, r *shared.CertResult) {
	p := a.pending
	if p == nil || r.RequestID != p.req.RequestID {
		return
	}
	a.pending = nil
	a.dirty = true
	if r.Status != shared.StatusIssued {
		msg := "failed without an error"
		if r.Error != nil {
			msg = string(r.Error.Code) + ": " + r.Error.Message
		}
		a.fail(errors.New(msg))
		return
	}
	leaf, err := checkChain(r.Chain, p.key, a.Names)
	if err != nil {
		a.fail(err)
		return
	}
	a.key, a.cert, a.streak = p.key, leaf, 0
	a.certAt.Store(time.Now().UnixNano())
}

// fail records a failed request and schedules a new one, backing off as
// the agent does (from a minute, doubling to an hour).
func (a *Agent) fail(err error) {
	a.streak++
	a.fleet.log.Warn("certificate request failed", "agent", a.ID, "err", err)
	msg := err.Error()
	a.lastErr.Store(&msg)
	a.failures.Add(1)
	d := min(time.Minute<<min(a.streak-1, 6), time.Hour)
	a.retryAt = time.Now().Add(jitter(d))
}

func (a *Agent) report(ctx context.Context) {
	cs := shared.CertStatus{Name: certName, Names: a.Names, LastAttempt: a.lastTry}
	switch {
	case a.pending != nil:
		cs.LastResult, cs.Pending = "pending", a.pending.req.RequestID
	case a.cert != nil:
		cs.LastResult = "ok"
	}
	if c := a.cert; c != nil {
		cs.Serial = fmt.Sprintf("%x", c.SerialNumber)
		cs.NotBefore, cs.NotAfter = c.NotBefore, c.NotAfter
		cs.RenewAt = c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) * 2 / 3)
		cs.Installed = time.Unix(0, a.certAt.Load()).UTC()
	}
	var certs []shared.CertStatus
	if len(a.Names) > 0 {
		certs = []shared.CertStatus{cs}
	}
	sent := time.Now()
	cctx, cancel := a.callCtx(ctx)
	defer cancel()
	err := a.cl.Load().ReportStatus(cctx, &shared.StatusReport{AgentVersion: a.fleet.opts.Version, Hostname: a.ID + ".sim",
		Certificates: certs, Sent: time.Now().UTC(), Transport: a.cl.Load().Transport()})
	if err != nil {
		a.talkFailed()
		return
	}
	a.dirty, a.talkTry, a.talkAt = false, 0, time.Time{}
	a.reportedAt.Store(sent.UnixNano())
}

// checkChain parses an issued chain and checks that its leaf is for key
// and exactly names.
func checkChain(chain string, key crypto.Signer, names []string) (*x509.Certificate, error) {
	blk, _ := pem.Decode([]byte(chain))
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("issued chain holds no certificate")
	}
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse issued leaf: %w", err)
	}
	if !keys.SamePublic(leaf.PublicKey, key.Public()) {
		return nil, errors.New("issued leaf is not for the request's key")
	}
	got, want := slices.Clone(leaf.DNSNames), slices.Clone(names)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return nil, fmt.Errorf("issued leaf names %v, want %v", got, want)
	}
	return leaf, nil
}

// jitter returns d jittered by a third either way.
func jitter(d time.Duration) time.Duration {
	return d - d/3 + rand.N(2*d/3+1)
}
