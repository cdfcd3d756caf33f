package service

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/issuer"
	"github.com/certfleet/certfleet/hub/pace"
	"github.com/certfleet/certfleet/hub/policy"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

// Request states kept in the requests bucket.
const (
	stateQueued   = hub.RequestQueued
	stateWaiting  = hub.RequestWaiting // for a CA budget, outside the queue (waiting.go)
	stateOrdering = hub.RequestOrdering
	stateRetrying = hub.RequestRetrying
	stateIssued   = hub.RequestIssued
	stateFailed   = hub.RequestFailed
)

// maxAttempts bounds retries of transient failures before the request is
// failed loudly (about a day with the backoff below).
const maxAttempts = 12

// backoff returns the wait before attempt n+1: exponential from base,
// capped at 4h, plus up to 25% jitter (never less) so a fleet does not
// retry in step.
func backoff(base time.Duration, attempt int) time.Duration {
	d := min(base<<min(max(attempt, 0), 10), 4*time.Hour)
	return d + time.Duration(rand.Int64N(int64(d)/4+1))
}

// consume works the durable request queue until ctx ends, with as many
// orders in flight as the limiter allows (it adapts to the CA).
func (h *Hub) consume(ctx context.Context) error {
	cons := h.store.RequestConsumer()
	var inflight sync.WaitGroup
	for {
		tok, err := h.limiter.Acquire(ctx)
		if err != nil {
			// Wait for in-flight orders: they finish or are handed back.
			inflight.Wait()
			return nil
		}
		// The fetch ends with the hub's context, so a stopping hub does not
		// sit out a pull request.
		fctx, fcancel := context.WithTimeout(ctx, 2*time.Second)
		batch, err := cons.Fetch(1, jetstream.FetchContext(fctx))
		if err != nil {
			fcancel()
			tok.Release()
			if ctx.Err() != nil {
				continue
			}
			h.log.Warn("fetch certificate requests", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		got := false
		for msg := range batch.Messages() {
			got = true
			h.wg.Add(1)
			inflight.Add(1)
			go func() {
				defer h.wg.Done()
				defer inflight.Done()
				defer tok.Release()
				h.handleRequestSafely(ctx, msg, tok)
			}()
		}
		fcancel()
		if !got {
			tok.Release()
		}
	}
}

// handleRequest processes one queued request and acks, naks or terminates
// the message. Every outcome is recorded before the ack, so a crash at any
// point redelivers the request and the records make the retry idempotent.
// tok is the request's order slot; the order's outcome is fed back to the
// limiter through it. With several hubs, the request state is written only
// through a claim (claim.go): a hub that finds another took the request
// over leaves the message alone.
func (h *Hub) handleRequest(ctx context.Context, msg jetstream.Msg, tok *pace.Token) {
	id, ok := shared.ParseQueueSubject(msg.Subject())
	if !ok {
		h.log.Warn("request on unexpected subject dropped", "subject", msg.Subject())
		_ = msg.Term()
		return
	}
	var req shared.CertRequest
	if err := shared.Decode(msg.Data(), &req); err != nil {
		h.log.Warn("malformed certificate request dropped", "agent", id, "err", err)
		h.audit(ctx, store.AuditEvent{Kind: store.AuditRefused, Agent: id, Detail: err.Error()})
		if req.RequestID != "" && shared.ValidateRequestID(req.RequestID) == nil {
			_ = h.finishFailed(ctx, nil, id, req, nil, err, time.Time{})
		}
		_ = msg.Term()
		return
	}
	log := h.log.With("agent", id, "request", req.RequestID, "cert", req.CertName)
	key := id + "/" + req.RequestID
	if !h.handling.begin(key) {
		log.Debug("request redelivered while this hub works on it; the first delivery finishes it")
		return
	}
	defer h.handling.end(key)

	st, rev, err := h.store.GetRequestAt(ctx, id, req.RequestID)
	switch {
	case err == nil && (st.State == stateIssued || st.State == stateFailed):
		// Redelivered after we finished it: deliver the result again.
		if res, err := h.store.GetResult(ctx, id, req.RequestID); err == nil {
			h.deliver(id, res)
		}
		_ = msg.Ack()
		return
	case err == nil && h.staleCopy(msg, st):
		log.Info("stale copy of a request dropped; the request goes on without it", "state", st.State)
		_ = msg.Ack()
		return
	case err == nil && st.State == stateRetrying && time.Until(st.NextTry) > time.Second:
		// Back before its time (a restarted server redelivers on AckWait,
		// not on the delay it was given): wait again, so a CA's
		// Retry-After holds across restarts.
		log.Debug("request redelivered before its retry time", "next_try", st.NextTry)
		_ = msg.NakWithDelay(time.Until(st.NextTry))
		return
	case err == nil && st.State == stateOrdering && st.Hub != "" && st.Hub != h.id:
		// Another hub drives it, or drove it and died.
		if !h.holderSilent(ctx, msg, id, req.RequestID, rev) {
			log.Debug("request held by another hub that is alive; leaving it", "holder", st.Hub)
			return
		}
		log.Warn("taking over a request from a hub that went silent", "holder", st.Hub, "held", st.Held, "order", st.OrderURL)
	case err != nil && !errors.Is(err, store.ErrNotFound):
		log.Warn("read request state; will retry", "err", err)
		_ = msg.NakWithDelay(5 * time.Second)
		return
	case errors.Is(err, store.ErrNotFound):
		st, rev = hub.RequestState{AgentID: id, RequestID: req.RequestID, CertName: req.CertName, State: stateQueued}, 0
	}
	c := h.newClaim(st, rev)

	agent, err := h.store.GetAgent(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			h.settle(log, msg, h.refuse(ctx, log, c, id, req, &st, shared.Errorf(shared.CodeUnknownAgent, "agent %q is not registered with this hub", id)))
			return
		}
		log.Warn("read agent; will retry", "err", err)
		_ = msg.NakWithDelay(5 * time.Second)
		return
	}
	csr, names, err := policy.Check(req.CSR, id, agent.Allow, h.cfg.Issuance.MaxNames)
	if err != nil {
		h.settle(log, msg, h.refuse(ctx, log, c, id, req, &st, err))
		return
	}
	st.Names = names
	if err := h.checkDelegation(ctx, names); err != nil {
		if shared.CodeOf(err) == shared.CodeInternal || isUnreachable(err) {
			st.Attempts++
			h.retryLater(ctx, log, c, msg, id, req, &st, err)
			return
		}
		h.settle(log, msg, h.refuse(ctx, log, c, id, req, &st, err))
		return
	}
	if st.CA == "" {
		st.CA = h.cfg.DefaultCA().Name
	}
	if !h.acquireAgent(id) {
		// This agent already has its share of order slots: let other
		// agents' requests go first.
		_ = msg.NakWithDelay(2 * time.Second)
		return
	}
	defer h.releaseAgent(id)
	if req.Profile != "" {
		if err := h.checkProfile(ctx, st.CA, req.Profile); err != nil {
			if shared.CodeOf(err) != shared.CodeUnknownProfile {
				// The CA could not be asked: not the agent's fault.
				st.Attempts++
				h.retryLater(ctx, log, c, msg, id, req, &st, err)
				return
			}
			h.settle(log, msg, h.refuse(ctx, log, c, id, req, &st, err))
			return
		}
	}
	if st.OrderURL == "" && st.PaidCA != st.CA {
		// A new order: pace it to the CA's budgets. A resumed order was
		// paid for when it was placed, a released one when released.
		renewal, due := h.renewalOf(ctx, id, req, names)
		ok, notBefore, reason, err := h.admitOrder(ctx, &st, renewal)
		if err != nil {
			log.Warn("check the CA's budgets; will retry", "err", err)
			_ = msg.NakWithDelay(5 * time.Second)
			return
		}
		if !ok {
			if !h.park(ctx, log, c, msg, &st, hub.WaitingRequest{Kind: hub.WaitBudget, Renewal: renewal, Due: due,
				NotBefore: notBefore, Reason: reason}) {
				_ = msg.NakWithDelay(max(5*time.Second, time.Until(notBefore)))
			}
			return
		}
	}
	// Whatever was paid pays for this order; a retry pays again.
	st.PaidCA = ""
	first := st.Attempts == 0
	st.State = stateOrdering
	st.Attempts++
	st.Hub, st.Held = h.id, time.Now().UTC()
	st.Updated = st.Held
	if err := c.save(ctx, &st); err != nil {
		if errors.Is(err, errLost) {
			log.Info("another hub took the request first; leaving it")
			return
		}
		log.Warn("record request state; will retry", "err", err)
		_ = msg.NakWithDelay(5 * time.Second)
		return
	}
	if first {
		h.audit(ctx, store.AuditEvent{Kind: store.AuditRequested, Agent: id, CertName: req.CertName, RequestID: req.RequestID, Names: names})
	}

	// Keep the message ours while the CA works (orders take seconds to
	// minutes), with a heartbeat other hubs see. An order is never
	// abandoned halfway because the hub is stopping: a clean stop waits
	// for it (bounded), so the CA sees no orphaned order. It is stopped
	// when the claim is lost: another hub drives it from then on.
	octx, ocancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer ocancel()
	octx, fence := context.WithCancelCause(octx)
	defer fence(nil)
	c.setFence(fence)
	release := h.store.HoldRequest(octx, msg, func() { c.beat(octx) })
	defer release()
	start := time.Now()
	cert, err := h.obtain(octx, c, csr, req, &st)
	sig, retryAt := paceSignal(err)
	tok.Done(sig, time.Since(start), retryAt)
	if c.isLost() {
		log.Info("request left to the hub that took it over", "err", err)
		return
	}
	// The outcome is recorded even when the hub is stopping: the order
	// ran to its end, and the store's retries are bounded.
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), finishWithin)
	defer fcancel()
	if err != nil {
		if !shared.CodeOf(classify(err)).Permanent() {
			h.retryLater(fctx, log, c, msg, id, req, &st, err)
			return
		}
		h.settle(log, msg, h.refuse(fctx, log, c, id, req, &st, classify(err)))
		return
	}
	log.Info("certificate issued", "names", names, "serial", hex.EncodeToString(cert.Leaf.SerialNumber.Bytes()),
		"not_after", cert.Leaf.NotAfter, "took", time.Since(start).Round(time.Millisecond))
	h.settle(log, msg, h.finishIssued(fctx, log, c, id, req, &st, names, cert))
}

// finishWithin bounds recording an order's outcome.
const finishWithin = 2 * time.Minute

// settle acks a message whose outcome is recorded. A request another hub
// took over is left to it (an ack would drop the request from the queue
// while the other hub still works on it); one whose outcome could not be
// recorded comes back soon and is finished again.
func (h *Hub) settle(log *slog.Logger, msg jetstream.Msg, err error) {
	switch {
	case errors.Is(err, errLost):
		log.Info("request left to the hub that took it over")
	case err != nil:
		log.Warn("could not record the request's outcome; finishing it again shortly", "err", err)
		_ = msg.NakWithDelay(5 * time.Second)
	default:
		_ = msg.Ack()
	}
}

func isUnreachable(err error) bool {
	var u *unreachableError
	return errors.As(err, &u)
}

// obtain orders from the request's current CA.
func (h *Hub) obtain(ctx context.Context, c *requestClaim, csr *x509.CertificateRequest, req shared.CertRequest, st *hub.RequestState) (_ *issuer.Certificate, err error) {
	defer func(start time.Time) { h.observeOrder(st.CA, err, time.Since(start)) }(time.Now())
	iss, err := h.issuer(ctx, st.CA)
	if err != nil {
		return nil, err
	}
	return iss.Obtain(ctx, issuer.Request{CSR: csr, Profile: req.Profile, OrderURL: st.OrderURL,
		ReplacesCertID: h.replaces(ctx, st.AgentID, req, st.CA),
		// Recorded before any challenge is answered: a hub killed from here
		// on resumes this order after restart instead of placing another.
		OnOrder: func(url string) error {
			// Through the claim: a hub that lost the request never
			// answers a challenge of an order it placed after that.
			st.OrderURL = url
			st.Updated = time.Now().UTC()
			if err := c.save(ctx, st); errors.Is(err, errLost) {
				return fmt.Errorf("%w: %w", issuer.ErrOrderUnrecorded, err)
			} else if err != nil {
				return err
			}
			return nil
		}})
}

// replaces returns the ARI id of the certificate a renewal replaces (RFC
// 9773 "replaces"), when the hub issued it from the same CA; "" otherwise.
func (h *Hub) replaces(ctx context.Context, agent string, req shared.CertRequest, ca string) string {
	if req.Replaces == "" {
		return ""
	}
	rec, err := h.store.GetCert(ctx, agent, req.CertName)
	if err != nil || !sameSerial(rec.Serial, req.Replaces) || rec.CA != ca {
		return ""
	}
	blk, _ := pem.Decode([]byte(rec.Chain))
	if blk == nil {
		return ""
	}
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return ""
	}
	id, err := issuer.CertID(leaf)
	if err != nil {
		return ""
	}
	return id
}

// sameSerial compares hex serials numerically ("0a1f" and "a1f" match).
func sameSerial(a, b string) bool {
	x, ok1 := new(big.Int).SetString(a, 16)
	y, ok2 := new(big.Int).SetString(b, 16)
	return ok1 && ok2 && x.Cmp(y) == 0
}

// perAgentSlots is how many orders one agent may have in flight: half of
// the current limit.
func (h *Hub) perAgentSlots() int { return max(1, h.limiter.Limit()/2) }

func (h *Hub) acquireAgent(id string) bool {
	h.inflightMu.Lock()
	defer h.inflightMu.Unlock()
	if h.inflight[id] >= h.perAgentSlots() {
		return false
	}
	h.inflight[id]++
	return true
}

func (h *Hub) releaseAgent(id string) {
	h.inflightMu.Lock()
	defer h.inflightMu.Unlock()
	if h.inflight[id]--; h.inflight[id] <= 0 {
		delete(h.inflight, id)
	}
}

// caFallbackAfter is how many failed attempts at one CA make a request move
// to the next configured CA.
const caFallbackAfter = 3

// nextCA moves st to the next [[ca]] after repeated failures at its
// current one; it reports whether it did.
func (h *Hub) nextCA(st *hub.RequestState) bool {
	st.CAAttempts++
	if st.CAAttempts < caFallbackAfter || len(h.cfg.CA) < 2 {
		return false
	}
	for i, ca := range h.cfg.CA {
		if ca.Name == st.CA {
			next := h.cfg.CA[(i+1)%len(h.cfg.CA)].Name
			st.CA, st.CAAttempts, st.OrderURL = next, 0, ""
			return true
		}
	}
	return false
}

// classify turns issuer errors into protocol errors with stable codes.
func classify(err error) error {
	var pe *shared.Error
	if errors.As(err, &pe) {
		return pe
	}
	if errors.Is(err, issuer.ErrUnknownProfile) {
		return shared.Errorf(shared.CodeUnknownProfile, "%v", err)
	}
	if _, ok := issuer.RetryAfter(err); ok {
		return shared.Errorf(shared.CodeRateLimited, "%v", err)
	}
	if p, ok := issuer.Rejected(err); ok {
		return shared.Errorf(shared.CodeCARejected, "the CA refuses this request (%s), retrying cannot help: %v", p.ShortType(), err)
	}
	return shared.Errorf(shared.CodeCAError, "%v", err)
}

func (h *Hub) retryLater(ctx context.Context, log *slog.Logger, c *requestClaim, msg jetstream.Msg, id string, req shared.CertRequest, st *hub.RequestState, err error) {
	perr := classify(err)
	if st.Attempts >= maxAttempts {
		log.Error("certificate request failed after retries", "attempts", st.Attempts, "err", err)
		h.settle(log, msg, h.refuse(ctx, log, c, id, req, st, perr))
		return
	}
	delay := backoff(h.cfg.Issuance.RetryBase.D(), st.Attempts-1)
	// The issuer rounds Retry-After up, so waiting until then is enough.
	if t, ok := issuer.RetryAfter(err); ok && time.Until(t) > delay {
		delay = time.Until(t)
	}
	limitedBy := st.CA
	if from := st.CA; h.nextCA(st) {
		// Another CA has its own limits: try it soon.
		delay = backoff(h.cfg.Issuance.RetryBase.D(), 0)
		log.Warn("falling back to the next CA", "from", from, "to", st.CA)
	}
	st.State = stateRetrying
	st.LastError = perr.Error()
	st.NextTry = time.Now().Add(delay).UTC()
	st.Updated = time.Now().UTC()
	st.WaitReason = ""
	st.Hub, st.Held = "", time.Time{}
	if _, limited := issuer.RetryAfter(err); limited {
		// The CA's Retry-After can be hours: wait outside the queue.
		reason := fmt.Sprintf("CA %s rate-limited the order; retry after its Retry-After", limitedBy)
		log.Warn("certificate request rate-limited; will retry", "attempt", st.Attempts, "next_try", st.NextTry, "err", err)
		if h.park(ctx, log, c, msg, st, hub.WaitingRequest{Kind: hub.WaitRetry, NotBefore: st.NextTry, Reason: reason}) {
			return
		}
		st.State, st.WaitReason = stateRetrying, ""
	}
	if serr := c.save(ctx, st); errors.Is(serr, errLost) {
		log.Info("request left to the hub that took it over", "err", err)
		return
	} else if serr != nil {
		log.Warn("record request state", "err", serr)
	}
	log.Warn("certificate request failed; will retry", "attempt", st.Attempts, "next_try", st.NextTry, "err", err)
	_ = msg.NakWithDelay(delay)
}

// refuse fails the request for good. It returns errLost, and records
// nothing, when another hub took the request over.
func (h *Hub) refuse(ctx context.Context, log *slog.Logger, c *requestClaim, id string, req shared.CertRequest, st *hub.RequestState, err error) error {
	if cerr := c.confirm(ctx); errors.Is(cerr, errLost) {
		return cerr
	} else if cerr != nil {
		log.Warn("confirm request claim", "err", cerr)
	}
	log.Warn("certificate request refused", "err", err)
	kind := store.AuditRefused
	if c := shared.CodeOf(err); c == shared.CodeCAError || c == shared.CodeRateLimited || c == shared.CodeInternal {
		kind = store.AuditFailed
	}
	h.audit(ctx, store.AuditEvent{Kind: kind, Agent: id, CertName: req.CertName, RequestID: req.RequestID, Names: st.Names, Detail: err.Error()})
	return h.finishFailed(ctx, c, id, req, st, err, time.Time{})
}

// finishFailed stores and delivers a failed result; with st, the request
// state becomes failed through c (nil: unconditionally). It returns
// errLost when the claim turned out lost, and the error when the store
// could not record the outcome (the request is then handed out again).
func (h *Hub) finishFailed(ctx context.Context, c *requestClaim, id string, req shared.CertRequest, st *hub.RequestState, err error, retryAfter time.Time) error {
	var pe *shared.Error
	if !errors.As(err, &pe) {
		pe = shared.Errorf(shared.CodeInternal, "%v", err)
	}
	res := shared.CertResult{Type: shared.TypeCertResult, RequestID: req.RequestID, CertName: req.CertName,
		Status: shared.StatusFailed, Error: pe, RetryAfter: retryAfter, Finished: time.Now().UTC()}
	if err := h.store.PutResult(ctx, id, res); err != nil {
		return fmt.Errorf("store result: %w", err)
	}
	if st != nil {
		st.State = stateFailed
		st.LastError = pe.Error()
		st.NextTry = time.Time{}
		st.Updated = time.Now().UTC()
		st.Hub, st.Held = "", time.Time{}
		if err := c.put(ctx, h, st); err != nil {
			return fmt.Errorf("record request state: %w", err)
		}
	}
	h.deliver(id, res)
	return nil
}

// finishIssued stores and delivers an issued certificate. It returns
// errLost, and records nothing, when another hub took the request over (it
// finishes the same order and records the same certificate), and the
// error when the store could not record the outcome.
func (h *Hub) finishIssued(ctx context.Context, log *slog.Logger, c *requestClaim, id string, req shared.CertRequest, st *hub.RequestState, names []string, cert *issuer.Certificate) error {
	if err := c.confirm(ctx); errors.Is(err, errLost) {
		return err
	} else if err != nil {
		log.Warn("confirm request claim", "err", err)
	}
	leaf := cert.Leaf
	renewAt := h.renewAt(ctx, st.CA, leaf)
	now := time.Now().UTC()
	rec := hub.CertRecord{AgentID: id, CertName: req.CertName, RequestID: req.RequestID, Names: names,
		Serial: hex.EncodeToString(leaf.SerialNumber.Bytes()), NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter,
		RenewAt: renewAt, Chain: cert.ChainPEM, CA: st.CA, CertURL: cert.CertURL, Profile: req.Profile, Issued: now}
	res := shared.CertResult{Type: shared.TypeCertResult, RequestID: req.RequestID, CertName: req.CertName,
		Status: shared.StatusIssued, Chain: cert.ChainPEM, Serial: rec.Serial, NotBefore: leaf.NotBefore,
		NotAfter: leaf.NotAfter, RenewAt: renewAt, Finished: now}
	// Result first: it is what the agent fetches. The state comes last: if
	// any step fails (the store retries through a leader election first),
	// the request is handed out again and finished again from its order;
	// every step repeats harmlessly (the audit event is de-duplicated).
	if err := h.store.PutResult(ctx, id, res); err != nil {
		return fmt.Errorf("store issued certificate: %w", err)
	}
	if err := h.store.PutCert(ctx, rec); err != nil {
		return fmt.Errorf("store issued certificate: %w", err)
	}
	h.audit(ctx, store.AuditEvent{Kind: store.AuditIssued, Agent: id, CertName: req.CertName, RequestID: req.RequestID,
		Names: names, Detail: fmt.Sprintf("serial %s, not after %s", rec.Serial, leaf.NotAfter.Format(time.RFC3339))})
	st.State = stateIssued
	st.OrderURL = ""
	st.LastError = ""
	st.NextTry = time.Time{}
	st.Updated = now
	st.Hub, st.Held = "", time.Time{}
	if err := c.save(ctx, st); err != nil {
		return fmt.Errorf("record request state: %w", err)
	}
	h.deliver(id, res)
	return nil
}

// renewAt is when the agent should renew: a random point in the CA's ARI
// window, else when RenewFraction of the lifetime remains, minus up to 2%
// of the lifetime of jitter so certificates issued together spread out.
// The ARI window is cut off a quarter of the lifetime before expiry: a CA
// may offer the whole lifetime of a short-lived certificate as its window,
// and advice for its last seconds leaves no room for a retry.
func (h *Hub) renewAt(ctx context.Context, ca string, leaf *x509.Certificate) time.Time {
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	latest := leaf.NotAfter.Add(-life / 4)
	if iss, err := h.issuer(ctx, ca); err == nil {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		info, err := iss.RenewalInfo(actx, leaf)
		cancel()
		if err == nil && info != nil && !info.WindowEnd.IsZero() {
			start, end := info.WindowStart, info.WindowEnd
			if end.After(latest) {
				end = latest
			}
			if end.After(start) {
				return start.Add(time.Duration(rand.Int64N(int64(end.Sub(start))))).UTC()
			}
		}
	}
	at := leaf.NotAfter.Add(-time.Duration(float64(life) * h.cfg.Issuance.RenewFraction))
	return at.Add(-time.Duration(rand.Int64N(int64(life)/50 + 1))).UTC()
}

// deliver pushes a result to the agent; an agent that is offline fetches it
// from the results bucket when it returns.
func (h *Hub) deliver(id string, res shared.CertResult) {
	b, err := shared.Encode(&res)
	if err != nil {
		h.log.Error("encode result", "agent", id, "err", err)
		return
	}
	if err := h.nc.Publish(shared.Down(id, shared.VerbResult), b); err != nil {
		h.log.Warn("publish result", "agent", id, "err", err)
	}
}
