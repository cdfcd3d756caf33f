package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"time"

	"github.com/certfleet/certfleet/agent/control"
	"github.com/certfleet/certfleet/agent/internal/fsutil"
	"github.com/certfleet/certfleet/agent/state"
	"github.com/certfleet/certfleet/shared"
)

// hubConn is what the loop needs from the hub connection.
type hubConn interface {
	Connected() bool
	// Transport says which path reaches the hub ("" while disconnected).
	Transport() string
	Hello(context.Context, *shared.Hello) (*shared.HelloReply, error)
	PublishCertRequest(context.Context, *shared.CertRequest) error
	Fetch(context.Context, string) (*shared.CertResult, error)
	ReportStatus(context.Context, *shared.StatusReport) error
}

// loopState is everything the loop goroutine owns.
type loopState struct {
	agentID string
	st      *state.State
	hub     hubConn
	events  chan func(context.Context)
	// waiters get the outcome of a block's current attempt (manual renews).
	waiters map[string][]chan control.Outcome
	// only, when set (RenewOnce), limits the agent to these blocks.
	only map[string]bool
	// outbox holds outcomes until the state that records them is saved.
	outbox      []outcome
	saved       []byte
	statusDirty bool
	// talk is when hello (ungreeted) or a due status report may next be
	// tried: after a failure the loop backs off, with jitter, instead of
	// waiting for the next poll or hammering a hub that is starting up.
	greeted   bool
	talkAt    time.Time
	talkTries int
}

// maxTalkBackoff caps the wait between tries of hello and status.
const maxTalkBackoff = time.Minute

// talkFailed schedules the next try of hello or status.
func (a *Agent) talkFailed() {
	a.talkTries++
	d := min(time.Second<<min(a.talkTries-1, 6), maxTalkBackoff)
	a.talkAt = a.opts.Now().Add(d/2 + rand.N(d/2+1))
}

// talkDue reports whether hello or status is owed and may be tried now.
func (a *Agent) talkDue() bool {
	return (!a.greeted || a.statusDirty) && a.hub != nil && a.hub.Connected() && !a.opts.Now().Before(a.talkAt)
}

type outcome struct {
	block string
	o     control.Outcome
}

func newLoopState(a *Agent, agentID string, once *string) *loopState {
	ls := &loopState{
		agentID: agentID,
		events:  make(chan func(context.Context), 64),
		waiters: map[string][]chan control.Outcome{},
	}
	if once != nil {
		ls.only = map[string]bool{}
		for _, b := range a.cfg.Certificates {
			if *once == "" || *once == b.Name {
				ls.only[b.Name] = true
			}
		}
	}
	return ls
}

// post hands f to the loop goroutine; it gives up when ctx ends.
func (a *Agent) post(ctx context.Context, f func(context.Context)) bool {
	select {
	case a.events <- f:
		return true
	case <-ctx.Done():
		return false
	}
}

func (a *Agent) loop(ctx context.Context) {
	a.checkAll(ctx)
	a.afterEvent(ctx)
	poll := time.NewTimer(a.jitter(a.opts.PollInterval))
	defer poll.Stop()
	status := time.NewTicker(a.opts.StatusInterval)
	defer status.Stop()
	// wake fires when the earliest renewal, retry or pending step is
	// due; it is re-armed after every event, since any may change that.
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	a.armWake(wake)
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-a.events:
			f(ctx)
		case <-poll.C:
			// The poll is the safety net: it notices files changed on
			// disk and what no timer was set for.
			a.checkAll(ctx)
			poll.Reset(a.jitter(a.opts.PollInterval))
		case <-wake.C:
			a.checkAll(ctx)
		case <-status.C:
			a.statusDirty = true
		}
		a.afterEvent(ctx)
		a.armWake(wake)
	}
}

// afterEvent saves state that changed, then tells waiters about
// outcomes (so what they read from the state file is current), and sends
// a status report that is due.
func (a *Agent) afterEvent(ctx context.Context) {
	if err := a.persist(); err != nil {
		a.logger.Error("save state", "err", err)
	}
	for _, o := range a.outbox {
		for _, ch := range a.waiters[o.block] {
			ch <- o.o
		}
		delete(a.waiters, o.block)
	}
	a.outbox = a.outbox[:0]
	if !a.talkDue() {
		return
	}
	if !a.greeted {
		if !a.hello(ctx) {
			a.talkFailed()
			return
		}
		a.greeted = true
	}
	if a.statusDirty {
		if !a.reportStatus(ctx) {
			a.talkFailed()
			return
		}
	}
	a.talkTries, a.talkAt = 0, time.Time{}
}

// jitter spreads d by a third either way, so a fleet does not poll in step.
func (a *Agent) jitter(d time.Duration) time.Duration {
	third := d / 3
	if third <= 0 {
		return d
	}
	return d - third + rand.N(2*third+1)
}

// persist writes the state file if it changed since the last write.
func (a *Agent) persist() error {
	data, err := json.Marshal(a.st)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if bytes.Equal(data, a.saved) {
		return nil
	}
	if err := a.st.Save(a.cfg.StatePath()); err != nil {
		return err
	}
	a.saved = data
	return nil
}

func (a *Agent) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.opts.RequestTimeout)
}

// onConnect greets the hub, then moves every pending request along at
// once (publish what was never acknowledged, fetch what was) and reports
// status.
func (a *Agent) onConnect(ctx context.Context) {
	if t := a.hub.Transport(); t != "" {
		a.st.Hub = &state.HubContact{Transport: t, Connected: a.opts.Now().UTC()}
	}
	// A new connection: greet again at once (and report), whatever the
	// back-off was.
	a.greeted, a.talkTries, a.talkAt = false, 0, time.Time{}
	if a.hello(ctx) {
		a.greeted = true
	}
	for _, c := range a.st.Certificates {
		if c.Pending != nil {
			c.Pending.NextTry = time.Time{}
		}
	}
	a.checkAll(ctx)
	a.statusDirty = true
}

// hello greets the hub; it reports whether the hub answered.
func (a *Agent) hello(ctx context.Context) bool {
	host, _ := os.Hostname()
	cctx, cancel := a.callCtx(ctx)
	defer cancel()
	r, err := a.hub.Hello(cctx, &shared.Hello{
		AgentVersion: a.opts.Version,
		Protocol:     shared.ProtocolVersion,
		Hostname:     host,
		OS:           runtime.GOOS,
		Arch:         runtime.GOARCH,
	})
	if err != nil {
		if shared.CodeOf(err) == shared.CodeUnknownAgent {
			// Answered, and retrying changes nothing until an admin acts.
			a.logger.Error("the hub does not know this agent; was it removed?", "agent", a.agentID, "err", err)
			return true
		}
		a.logger.Warn("hello to hub failed; will retry", "err", err)
		return false
	}
	attrs := []any{"hub_version", r.HubVersion, "protocol", r.Protocol}
	if r.CredsExpire != nil {
		attrs = append(attrs, "creds_expire", r.CredsExpire.UTC().Format(time.RFC3339))
	}
	if !r.ServerTime.IsZero() {
		if skew := a.opts.Now().Sub(r.ServerTime); skew > time.Minute || skew < -time.Minute {
			a.logger.Warn("clock differs from the hub's; certificate validity checks may be off", "skew", skew.Round(time.Second))
		}
	}
	a.logger.Debug("hub answered hello", attrs...)
	return true
}

// reportStatus sends the status report; it reports whether the hub took it.
func (a *Agent) reportStatus(ctx context.Context) bool {
	host, _ := os.Hostname()
	rep := &shared.StatusReport{
		AgentVersion: a.opts.Version,
		Hostname:     host,
		Certificates: CertStatuses(a.cfg, a.st, a.opts.Now()),
		Sent:         a.opts.Now().UTC(),
		Transport:    a.hub.Transport(),
	}
	a.addUnmanaged(rep)
	cctx, cancel := a.callCtx(ctx)
	defer cancel()
	if err := a.hub.ReportStatus(cctx, rep); err != nil {
		a.logger.Warn("status report failed; will retry", "err", err)
		return false
	}
	a.statusDirty = false
	return true
}

// hubHandler turns the hub's messages into loop events.
type hubHandler struct{ a *Agent }

func (h hubHandler) HandleResult(r *shared.CertResult) {
	h.a.postFromHub(func(ctx context.Context) { h.a.handleResult(ctx, r) })
}

func (h hubHandler) HandleRenew(r *shared.RenewCommand) {
	h.a.postFromHub(func(ctx context.Context) { h.a.handleRenewCommand(ctx, r) })
}

// postFromHub posts from a NATS callback, which has no context of its own:
// it waits while the agent runs.
func (a *Agent) postFromHub(f func(context.Context)) {
	a.mu.Lock()
	done := a.done
	a.mu.Unlock()
	if done == nil {
		return
	}
	select {
	case a.events <- f:
	case <-done:
	}
}

func (a *Agent) handleRenewCommand(ctx context.Context, r *shared.RenewCommand) {
	found := false
	for _, b := range a.cfg.Certificates {
		if r.CertName == "" || r.CertName == b.Name {
			found = true
			a.logger.Info("hub asked for renewal", "cert", b.Name, "reason", r.Reason)
			a.check(ctx, b, true)
		}
	}
	if !found {
		a.logger.Warn("hub asked to renew a certificate this agent does not have", "cert", r.CertName)
	}
}

// controlHandler serves the control socket.
type controlHandler struct{ a *Agent }

func (h controlHandler) Renew(ctx context.Context, cert string) ([]control.Outcome, error) {
	return h.a.renew(ctx, cert)
}

// renew starts a manual renewal of cert ("" = all) in the loop and waits
// for every block's outcome.
func (a *Agent) renew(ctx context.Context, cert string) ([]control.Outcome, error) {
	type started struct {
		names []string
		chans []chan control.Outcome
		err   error
	}
	reply := make(chan started, 1)
	ok := a.post(ctx, func(lctx context.Context) {
		var s started
		for _, b := range a.cfg.Certificates {
			if cert != "" && b.Name != cert {
				continue
			}
			ch := make(chan control.Outcome, 1)
			a.waiters[b.Name] = append(a.waiters[b.Name], ch)
			s.names = append(s.names, b.Name)
			s.chans = append(s.chans, ch)
		}
		if len(s.names) == 0 {
			s.err = fmt.Errorf("no certificate block %q in the configuration", cert)
			reply <- s
			return
		}
		reply <- s
		for _, b := range a.cfg.Certificates {
			if cert == "" || b.Name == cert {
				a.logger.Info("renewal asked for locally", "cert", b.Name)
				a.check(lctx, b, true)
			}
		}
	})
	if !ok {
		return nil, ctx.Err()
	}
	var s started
	select {
	case s = <-reply:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if s.err != nil {
		return nil, s.err
	}
	out := make([]control.Outcome, 0, len(s.chans))
	for i, ch := range s.chans {
		select {
		case o := <-ch:
			out = append(out, o)
		case <-ctx.Done():
			return out, fmt.Errorf("waiting for %s: %w", s.names[i], ctx.Err())
		}
	}
	var failed []string
	for _, o := range out {
		if o.Status != shared.StatusIssued {
			failed = append(failed, o.Cert)
		}
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("renewal failed for %v", failed)
	}
	return out, nil
}

// notify queues a block's outcome for everyone waiting for it; it is
// delivered once the state is saved.
func (a *Agent) notify(block string, o control.Outcome) {
	o.Cert = block
	a.outbox = append(a.outbox, outcome{block, o})
}

// dropPending forgets c's pending request and deletes its key.
func (a *Agent) dropPending(name string, c *state.Cert) {
	c.Pending = nil
	if err := os.Remove(a.cfg.PendingKeyPath(name)); err != nil && !os.IsNotExist(err) {
		a.logger.Warn("remove pending key", "cert", name, "err", err)
	}
}

// writePendingKey stores a pending request's key, private to the agent.
func (a *Agent) writePendingKey(name string, keyPEM []byte) error {
	return fsutil.WritePrivate(a.cfg.PendingKeyPath(name), keyPEM)
}
