package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/agent/install"
	"github.com/certfleet/certfleet/agent/keys"
	"github.com/certfleet/certfleet/agent/state"
	"github.com/certfleet/certfleet/shared"
)

// Local error codes recorded in state next to the hub's codes.
const (
	codeLocal   = "local"            // key, CSR or state could not be made or saved
	codeVerify  = "verify_failed"    // the hub's certificate did not match the request
	codeInstall = "install_failed"   // writing the files failed; old files kept
	codeReload  = "reload_failed"    // reload failed; old files restored
	codeCheck   = "tls_check_failed" // the service did not present the new certificate; old files restored
)

func specOf(b config.Certificate) state.Spec {
	return state.Spec{Names: b.Names, KeyType: b.KeyType, Profile: b.Profile}
}

func (a *Agent) checkAll(ctx context.Context) {
	for _, b := range a.cfg.Certificates {
		if ctx.Err() != nil {
			return
		}
		a.check(ctx, b, false)
	}
}

// check decides what block b needs now and starts it: move a pending
// request along, or make a new request when there is no usable
// certificate, the configuration changed, renewal is due, or manual.
func (a *Agent) check(ctx context.Context, b config.Certificate, manual bool) {
	if a.only != nil && !a.only[b.Name] {
		return
	}
	c := a.st.Cert(b.Name)
	spec := specOf(b)
	if p := c.Pending; p != nil {
		if p.Spec.Equal(spec) {
			if manual {
				p.NextTry = time.Time{}
			}
			a.advance(ctx, b, c)
			return
		}
		a.logger.Info("configuration changed; dropping the pending request", "cert", b.Name, "request", p.RequestID)
		a.dropPending(b.Name, c)
	}
	if c.LastSpec != nil && !c.LastSpec.Equal(spec) {
		// A new configuration deserves a fresh start.
		c.Blocked, c.Failures, c.RetryAt = false, 0, time.Time{}
	}
	reason := shared.ReasonManual
	if !manual {
		if c.Blocked {
			return
		}
		if a.opts.Now().Before(c.RetryAt) {
			return
		}
		reason = a.needs(b, c)
		if reason == "" {
			return
		}
	}
	a.request(ctx, b, c, reason)
}

// needs reads the installed files and returns the reason a new
// certificate is needed, or "". It brings c in line with what is on
// disk, so a state file lost or restored from backup does not cause a
// needless request.
func (a *Agent) needs(b config.Certificate, c *state.Cert) string {
	inst, err := install.ReadInstalled(install.TargetFor(b))
	if err != nil {
		if !errors.Is(err, install.ErrNotInstalled) {
			a.logger.Warn("installed certificate unusable; requesting a new one", "cert", b.Name, "err", err)
		}
		return shared.ReasonNew
	}
	leaf := inst.Leaf
	serial := install.SerialHex(leaf)
	if c.Serial != serial {
		c.Serial, c.NotBefore, c.NotAfter = serial, leaf.NotBefore, leaf.NotAfter
		c.RenewAt = time.Time{}
		c.Spec = state.Spec{Names: leaf.DNSNames, KeyType: inst.KeyType, Profile: b.Profile}
	}
	switch {
	case !install.SameNames(leaf.DNSNames, b.Names):
		return shared.ReasonNamesChanged
	case inst.KeyType != b.KeyType:
		a.logger.Info("key type changed; requesting a new certificate", "cert", b.Name, "from", inst.KeyType, "to", b.KeyType)
		return shared.ReasonRenew
	case c.Spec.Profile != b.Profile:
		a.logger.Info("profile changed; requesting a new certificate", "cert", b.Name, "from", c.Spec.Profile, "to", b.Profile)
		return shared.ReasonRenew
	case !a.opts.Now().Before(renewTime(b, c)):
		return shared.ReasonRenew
	}
	return ""
}

// renewTime is when the installed certificate should be renewed: the
// block's renew_before if set (and shorter than the lifetime, else every
// certificate would be due at once), else the hub's advice, else when a
// third of its lifetime is left.
func renewTime(b config.Certificate, c *state.Cert) time.Time {
	if c.NotAfter.IsZero() {
		return time.Time{}
	}
	if rb := b.RenewBefore.Duration; rb > 0 && rb < c.NotAfter.Sub(c.NotBefore) {
		return c.NotAfter.Add(-rb)
	}
	if !c.RenewAt.IsZero() && c.RenewAt.Before(c.NotAfter) {
		return c.RenewAt
	}
	return c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) * 2 / 3)
}

// request makes a new key and CSR, records the pending request (saved
// before it is sent, so a crash cannot orphan it) and publishes it.
func (a *Agent) request(ctx context.Context, b config.Certificate, c *state.Cert, reason string) {
	now := a.opts.Now()
	spec := specOf(b)
	c.LastSpec = &spec
	c.LastAttempt = now
	fail := func(err error) {
		a.logger.Error("cannot make a certificate request", "cert", b.Name, "err", err)
		a.failure(b.Name, c, codeLocal, err.Error(), time.Time{}, false)
	}
	key, err := keys.Generate(b.KeyType)
	if err != nil {
		fail(err)
		return
	}
	keyPEM, err := keys.Marshal(key)
	if err != nil {
		fail(err)
		return
	}
	csr, err := keys.CSR(key, b.Names)
	if err != nil {
		fail(err)
		return
	}
	if err := a.writePendingKey(b.Name, keyPEM); err != nil {
		fail(fmt.Errorf("store pending key: %w", err))
		return
	}
	c.Pending = &state.Pending{
		RequestID: shared.NewRequestID(),
		Spec:      spec,
		Reason:    reason,
		CSR:       string(csr),
		Replaces:  c.Serial,
		Created:   now,
	}
	c.LastResult = state.ResultPending
	if err := a.persist(); err != nil {
		a.dropPending(b.Name, c)
		fail(err)
		return
	}
	a.logger.Info("requesting certificate", "cert", b.Name, "names", b.Names, "reason", reason, "request", c.Pending.RequestID)
	a.statusDirty = true
	a.advance(ctx, b, c)
}

// advance moves a pending request along when it is due: publish it if the
// hub has not acknowledged it, else fetch its result.
func (a *Agent) advance(ctx context.Context, b config.Certificate, c *state.Cert) {
	p := c.Pending
	if a.hub == nil || !a.hub.Connected() || a.opts.Now().Before(p.NextTry) {
		return
	}
	if !p.Published {
		a.publish(ctx, b, c)
		return
	}
	a.fetch(ctx, b, c)
}

func (a *Agent) publish(ctx context.Context, b config.Certificate, c *state.Cert) {
	p := c.Pending
	cctx, cancel := a.callCtx(ctx)
	defer cancel()
	err := a.hub.PublishCertRequest(cctx, &shared.CertRequest{
		RequestID: p.RequestID,
		CertName:  b.Name,
		CSR:       p.CSR,
		Profile:   p.Spec.Profile,
		Reason:    p.Reason,
		Replaces:  p.Replaces,
		Created:   p.Created,
	})
	now := a.opts.Now()
	if err != nil {
		p.Tries++
		p.NextTry = now.Add(a.shortBackoff(p.Tries))
		a.logger.Warn("publishing certificate request failed; will retry", "cert", b.Name, "request", p.RequestID, "retry_at", p.NextTry, "err", err)
		return
	}
	p.Published, p.PublishedAt, p.Tries = true, now, 0
	// The result normally arrives by push; the fetch is the safety net.
	p.NextTry = now.Add(a.jitter(a.opts.PollInterval))
	a.logger.Debug("certificate request accepted by hub", "cert", b.Name, "request", p.RequestID)
}

func (a *Agent) fetch(ctx context.Context, b config.Certificate, c *state.Cert) {
	p := c.Pending
	cctx, cancel := a.callCtx(ctx)
	res, err := a.hub.Fetch(cctx, p.RequestID)
	cancel()
	now := a.opts.Now()
	// Set before the result is applied: a result that leaves the request
	// pending (ignored, or its install failed) must not be fetched again
	// at once.
	p.NextTry = now.Add(a.jitter(a.opts.PollInterval))
	if err == nil {
		a.handleResult(ctx, res)
		return
	}
	var pe *shared.Error
	if !errors.As(err, &pe) {
		a.logger.Warn("fetching result failed", "cert", b.Name, "request", p.RequestID, "err", err)
		return
	}
	switch pe.Code {
	case shared.CodePending:
		a.logger.Debug("hub still working on request", "cert", b.Name, "request", p.RequestID)
	case shared.CodeNotFound:
		if now.Sub(p.PublishedAt) < a.opts.LostAfter {
			return
		}
		a.logger.Warn("hub has lost the request; asking again", "cert", b.Name, "request", p.RequestID)
		reason := p.Reason
		a.dropPending(b.Name, c)
		a.request(ctx, b, c, reason)
	default:
		a.logger.Warn("hub refused to fetch result", "cert", b.Name, "request", p.RequestID, "err", err)
	}
}

// shortBackoff paces retries of publishing and installing: from the poll
// interval up to RetryMax.
func (a *Agent) shortBackoff(tries int) time.Duration {
	return a.backoffFrom(a.opts.PollInterval, tries)
}

// backoff paces new requests after failed ones.
func (a *Agent) backoff(failures int) time.Duration {
	return a.backoffFrom(a.opts.RetryBase, failures)
}

func (a *Agent) backoffFrom(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < a.opts.RetryMax; i++ {
		d *= 2
	}
	d = min(d, a.opts.RetryMax)
	// Up to a fifth less, so agents that failed together spread out.
	return d - a.jitterDown(d/5)
}

func (a *Agent) jitterDown(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(float64(d) * rand.Float64())
}
