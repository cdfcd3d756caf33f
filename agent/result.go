package agent

import (
	"context"
	"crypto"
	"errors"
	"os"
	"time"

	"github.com/certfleet/certfleet/agent/certstore"
	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/agent/control"
	"github.com/certfleet/certfleet/agent/install"
	"github.com/certfleet/certfleet/agent/keys"
	"github.com/certfleet/certfleet/agent/state"
	"github.com/certfleet/certfleet/shared"
)

// handleResult applies the hub's answer to a pending request. Results
// for requests not pending (repeats, superseded ones) are ignored.
func (a *Agent) handleResult(ctx context.Context, r *shared.CertResult) {
	var (
		b     config.Certificate
		c     *state.Cert
		found bool
	)
	for _, blk := range a.cfg.Certificates {
		if cs := a.st.Certificates[blk.Name]; cs != nil && cs.Pending != nil && cs.Pending.RequestID == r.RequestID {
			b, c, found = blk, cs, true
			break
		}
	}
	if !found {
		a.logger.Debug("ignoring result for a request that is not pending", "request", r.RequestID)
		return
	}
	if r.CertName != "" && r.CertName != b.Name {
		a.logger.Warn("ignoring result naming another certificate block", "request", r.RequestID, "cert", b.Name, "result_cert", r.CertName)
		return
	}
	a.statusDirty = true
	switch r.Status {
	case shared.StatusFailed:
		e := r.Error
		a.logger.Warn("hub could not obtain certificate", "cert", b.Name, "request", r.RequestID, "code", e.Code, "err", e.Message)
		a.dropPending(b.Name, c)
		a.failure(b.Name, c, string(e.Code), e.Message, r.RetryAfter, e.Code.Permanent())
	case shared.StatusIssued:
		a.installResult(ctx, b, c, r)
	}
}

// installResult verifies the issued chain against the pending key and
// names, then installs it. Nothing is written unless verification passes.
func (a *Agent) installResult(ctx context.Context, b config.Certificate, c *state.Cert, r *shared.CertResult) {
	p := c.Pending
	now := a.opts.Now()
	keyPEM, err := os.ReadFile(a.cfg.PendingKeyPath(b.Name))
	var key crypto.Signer
	if err == nil {
		key, err = keys.Parse(keyPEM)
	}
	if err != nil {
		a.logger.Error("pending key unusable; asking again", "cert", b.Name, "err", err)
		a.dropPending(b.Name, c)
		a.failure(b.Name, c, codeLocal, "pending key unusable: "+err.Error(), time.Time{}, false)
		return
	}
	v, err := install.Verify(r.Chain, key.Public(), p.Spec.Names, now)
	if err != nil {
		a.logger.Error("hub sent a certificate that does not match the request; not installed", "cert", b.Name, "request", r.RequestID, "err", err)
		a.dropPending(b.Name, c)
		a.failure(b.Name, c, codeVerify, err.Error(), time.Time{}, false)
		return
	}
	target := install.TargetFor(b)
	if b.WindowsStore != "" {
		st := a.opts.CertStore
		if st == nil {
			var err error
			if st, err = certstore.Open(); err != nil {
				a.logger.Error("certificate store unavailable; pending request kept", "cert", b.Name, "err", err)
				a.failure(b.Name, c, codeInstall, err.Error(), time.Time{}, false)
				return
			}
		}
		target.Store = st
	}
	err = install.Install(ctx, target, v, keyPEM, a.logger)
	a.recordReload(c, target.Reload, err)
	if err != nil {
		code := codeInstall
		switch {
		case errors.Is(err, install.ErrReload):
			code = codeReload
		case errors.Is(err, install.ErrCheck):
			code = codeCheck
		}
		// The pending request stays: its result can be fetched and
		// installed again once the cause is fixed. The pause counts from
		// now: the reload and the check may have taken a while.
		p.Tries++
		p.NextTry = a.opts.Now().Add(a.shortBackoff(p.Tries))
		c.Failures++
		a.logger.Error("installing certificate failed; previous files kept", "cert", b.Name, "retry_at", p.NextTry, "err", err)
		c.LastResult, c.LastError, c.LastErrorCode = state.ResultFailed, err.Error(), code
		a.notify(b.Name, control.Outcome{Status: shared.StatusFailed, Error: err.Error()})
		return
	}
	leaf := v.Leaf
	c.Spec = p.Spec
	c.Serial, c.NotBefore, c.NotAfter = v.Serial(), leaf.NotBefore, leaf.NotAfter
	c.RenewAt = r.RenewAt
	if !c.RenewAt.IsZero() && !c.RenewAt.After(now) {
		// Advice to renew a certificate the moment it is installed would
		// loop; an urgent renewal comes as a RenewCommand instead.
		a.logger.Warn("hub advised a renewal time already past; using the default", "cert", b.Name, "renew_at", c.RenewAt)
		c.RenewAt = time.Time{}
	}
	c.Installed = now
	if rb := b.RenewBefore.Duration; rb > 0 && rb >= leaf.NotAfter.Sub(leaf.NotBefore) {
		a.logger.Warn("renew_before is not shorter than the certificate's lifetime; ignoring it",
			"cert", b.Name, "renew_before", rb, "lifetime", leaf.NotAfter.Sub(leaf.NotBefore))
	}
	c.LastResult, c.LastError, c.LastErrorCode = state.ResultOK, "", ""
	c.Failures, c.RetryAt, c.Blocked = 0, time.Time{}, false
	a.dropPending(b.Name, c)
	a.logger.Info("certificate installed", "cert", b.Name, "serial", c.Serial,
		"not_after", c.NotAfter.UTC().Format(time.RFC3339), "renew_at", renewTime(b, c).UTC().Format(time.RFC3339))
	a.notify(b.Name, control.Outcome{Status: shared.StatusIssued, Serial: c.Serial, NotAfter: c.NotAfter})
}

// failure records a failed attempt and when the next may start: never by
// itself for a permanent error, else after an exponential back-off, not
// before retryAfter.
func (a *Agent) failure(name string, c *state.Cert, code, msg string, retryAfter time.Time, permanent bool) {
	now := a.opts.Now()
	c.LastResult, c.LastError, c.LastErrorCode = state.ResultFailed, msg, code
	c.Failures++
	if permanent {
		c.Blocked, c.RetryAt = true, time.Time{}
		a.logger.Warn("not retrying until the configuration changes or a renew is asked for", "cert", name, "code", code)
	} else {
		c.RetryAt = now.Add(a.backoff(c.Failures))
		if retryAfter.After(c.RetryAt) {
			c.RetryAt = retryAfter
		}
	}
	a.statusDirty = true
	a.notify(name, control.Outcome{Status: shared.StatusFailed, Error: code + ": " + msg})
}

// recordReload keeps the outcome of the reload Install ran, for the
// status report: it ran and succeeded when Install succeeded or only the
// TLS check after it failed; it failed on ErrReload; otherwise (files
// could not be written) it did not run and the last outcome stays.
func (a *Agent) recordReload(c *state.Cert, r install.Reload, err error) {
	if !r.Configured() {
		c.LastReload = nil
		return
	}
	res := &shared.ReloadResult{At: a.opts.Now().UTC(), Hook: r.Describe()}
	switch {
	case err == nil, errors.Is(err, install.ErrCheck):
		res.OK = true
	case errors.Is(err, install.ErrReload):
		res.Error = err.Error()
	default:
		return
	}
	c.LastReload = res
}
