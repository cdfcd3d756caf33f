package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/pace"
	"github.com/certfleet/certfleet/hub/store"
)

// Requests that must wait (for a CA budget, or out a CA's Retry-After)
// are parked in the waiting bucket and their queue message acknowledged:
// held unacknowledged they would fill the consumer's window
// (store.MaxWaiting) and block every other request, renewals included.
// Every hub releases parked requests whose time has come back into the
// queue, most urgent first, after spending their budgets; a claim in the
// store keeps two hubs from releasing one request twice.
const (
	// claimFor is how long a hub's claim on a waiting request lasts; a
	// hub that dies while releasing leaves it to others after that.
	claimFor = time.Minute
	// releaseEvery is the longest the releaser sleeps.
	releaseEvery = time.Second
	// maxReleasesPerRound and maxReschedulesPerRound bound one round's
	// store writes; the rest waits for the next round.
	maxReleasesPerRound    = 256
	maxReschedulesPerRound = 256
	// maxWaitStep bounds how far ahead a waiting request is next looked
	// at, however long its budget keeps it waiting: each look rewrites
	// the parking and the request's state, which would otherwise expire
	// (store.Options.ResultTTL) while a large rollout waits its turn.
	maxWaitStep = 7 * 24 * time.Hour
)

// nextLook is when a request that may go at notBefore is looked at next.
func nextLook(notBefore time.Time) time.Time {
	if limit := time.Now().Add(maxWaitStep); notBefore.After(limit) {
		return limit.UTC()
	}
	return notBefore.UTC()
}

// waitKeys returns the budget keys a waiting request waits for.
func (h *Hub) waitKeys(w hub.WaitingRequest) []string {
	if w.Kind != hub.WaitBudget {
		return nil
	}
	spends := h.spendsFor(w.CA, w.Names, w.Renewal)
	keys := make([]string, len(spends))
	for i, s := range spends {
		keys[i] = s.Key
	}
	return keys
}

// admitOrder spends the budgets of an order for st at st.CA, or says until
// when the request must wait, and why.
func (h *Hub) admitOrder(ctx context.Context, st *hub.RequestState, renewal bool) (ok bool, notBefore time.Time, reason string, err error) {
	spends := h.spendsFor(st.CA, st.Names, renewal)
	if len(spends) == 0 {
		return true, time.Time{}, "", nil
	}
	// Requests already waiting for these budgets at the same or a higher
	// priority go first; this one waits behind them, about one token
	// interval each.
	var behind time.Duration
	n, what := 0, ""
	for i, a := range h.waiting.ahead(spends, renewal) {
		if d := time.Duration(a) * spends[i].Rate.Interval(); a > 0 && d >= behind {
			behind, n, what = d, a, spends[i].What
		}
	}
	if n > 0 {
		return false, time.Now().Add(behind), fmt.Sprintf("behind %d waiting requests for the budget of %s", n, what), nil
	}
	v, err := h.budgets.Take(ctx, spends)
	if err != nil {
		return false, time.Time{}, "", err
	}
	if !v.OK {
		return false, v.RetryAt, budgetReason(v.Denied), nil
	}
	return true, time.Time{}, "", nil
}

func budgetReason(s pace.Spend) string {
	return "the budget of " + s.What + " is used up"
}

// park takes the request out of the queue until w.NotBefore: it records
// the parking, then the request's state, then acknowledges msg (a crash
// in between leaves a copy that handleRequest drops, see staleCopy). It
// reports false when the parking could not be stored; the caller then
// keeps the message instead.
func (h *Hub) park(ctx context.Context, log *slog.Logger, c *requestClaim, msg jetstream.Msg, st *hub.RequestState, w hub.WaitingRequest) bool {
	// Another hub that took the request over decides about it.
	if err := c.confirm(ctx); errors.Is(err, errLost) {
		log.Info("request left to the hub that took it over")
		return true
	}
	now := time.Now().UTC()
	if st.WaitingSince.IsZero() {
		st.WaitingSince = now
	}
	w.AgentID, w.RequestID, w.Request = st.AgentID, st.RequestID, msg.Data()
	w.CA, w.Names, w.Parked, w.Since = st.CA, st.Names, now, st.WaitingSince
	w.NotBefore = nextLook(w.NotBefore)
	if err := h.store.PutWaiting(ctx, w); err != nil {
		log.Warn("park request", "err", err)
		return false
	}
	h.waiting.put(w, h.waitKeys(w))
	st.State = stateRetrying
	if w.Kind == hub.WaitBudget {
		st.State = stateWaiting
	}
	st.NextTry, st.WaitReason, st.Updated = w.NotBefore, w.Reason, now
	st.Hub, st.Held = "", time.Time{}
	if err := c.put(ctx, h, st); err != nil {
		log.Warn("record request state", "err", err)
	}
	log.Info("request waits", "until", w.NotBefore, "reason", w.Reason, "renewal", w.Renewal)
	_ = msg.Ack()
	return true
}

// staleCopy reports whether msg is a copy of a request that another
// message or a parking now carries: left by a crash between the steps of
// parking or releasing. Handling it would run the request twice. A
// request whose state says it waits but that no parking holds (its
// parking was lost) is handled: it goes on, or waits again.
func (h *Hub) staleCopy(msg jetstream.Msg, st hub.RequestState) bool {
	if st.QueueMsgID != "" && store.MsgID(msg) != st.QueueMsgID {
		return true
	}
	return (st.State == stateWaiting || st.State == stateRetrying) && h.waiting.parked(st.AgentID, st.RequestID)
}

// runWaiting follows the waiting bucket and releases waiting requests
// whose time has come, until ctx ends. A watch that fails is started
// again: releasing late is better than stopping the hub.
func (h *Hub) runWaiting(ctx context.Context) error {
	log := h.log.With("component", "waiting")
	for {
		h.waiting.reset()
		w, err := h.store.WatchWaiting(ctx, func(put bool, w hub.WaitingRequest) {
			if put {
				h.waiting.put(w, h.waitKeys(w))
			} else {
				h.waiting.remove(w.AgentID, w.RequestID, w.Parked)
			}
		})
		if err == nil {
			err = h.releaseLoop(ctx, w)
			w.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("follow waiting requests; starting again", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Second):
		}
	}
}

// releaseLoop releases due requests until ctx ends or the watch fails.
func (h *Hub) releaseLoop(ctx context.Context, w *store.Watch) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.Done():
			if err := w.Err(); err != nil {
				return err
			}
			return errors.New("the watch ended")
		case <-t.C:
		case <-h.waiting.wake:
		}
		wait := releaseEvery
		if next := h.releaseDue(ctx); !next.IsZero() {
			wait = min(wait, max(time.Until(next), 10*time.Millisecond))
		}
		t.Reset(wait)
	}
}

// releaseDue releases the due waiting requests, most urgent first, as far
// as their budgets allow, and returns when the next one falls due. A
// request whose budget refuses is rescheduled, and the ones after it in
// the same budget and class are queued behind it one token interval
// apart, so that nobody asks again before there can be room.
func (h *Hub) releaseDue(ctx context.Context) time.Time {
	due, next := h.waiting.due(time.Now(), h.instance)
	type block struct {
		at    time.Time
		spend pace.Spend
		n     int
	}
	blocked := map[string]*block{} // by budget key and class
	released, rescheduled := 0, 0
	for _, e := range due {
		if ctx.Err() != nil || released >= maxReleasesPerRound {
			break
		}
		w := e.w
		var spends []pace.Spend
		if w.Kind == hub.WaitBudget {
			spends = h.spendsFor(w.CA, w.Names, w.Renewal)
		}
		var b *block
		for _, s := range spends {
			if x := blocked[fmt.Sprint(s.Key, "/", class(w.Renewal))]; x != nil {
				b = x
				break
			}
		}
		if b != nil {
			if rescheduled < maxReschedulesPerRound {
				b.n++
				h.rescheduleWaiting(ctx, w, b.at.Add(time.Duration(b.n)*b.spend.Rate.Interval()), budgetReason(b.spend))
				rescheduled++
			}
			continue
		}
		at, denied, err := h.release(ctx, w, spends)
		switch {
		case err != nil:
			h.log.Debug("release waiting request", "agent", w.AgentID, "request", w.RequestID, "err", err)
		case denied != nil:
			blocked[fmt.Sprint(denied.Key, "/", class(w.Renewal))] = &block{at: at, spend: *denied}
			h.rescheduleWaiting(ctx, w, at, budgetReason(*denied))
			rescheduled++
		default:
			released++
		}
	}
	if released == maxReleasesPerRound {
		h.waiting.poke()
	}
	return next
}

// rescheduleWaiting moves w's next try to notBefore, in the store, this
// hub's view and the request's state (what status shows).
func (h *Hub) rescheduleWaiting(ctx context.Context, w hub.WaitingRequest, notBefore time.Time, reason string) {
	now := time.Now()
	notBefore = nextLook(notBefore)
	if err := h.store.Reschedule(ctx, w.AgentID, w.RequestID, w.Parked, h.instance, now, notBefore, reason); err != nil {
		h.log.Debug("reschedule waiting request", "agent", w.AgentID, "request", w.RequestID, "err", err)
		return
	}
	h.waiting.reschedule(w.AgentID, w.RequestID, w.Parked, notBefore, reason)
	_, err := h.store.UpdateRequest(ctx, w.AgentID, w.RequestID, func(st *hub.RequestState) error {
		if st.State != stateWaiting {
			return errNotWaiting
		}
		st.NextTry, st.WaitReason, st.Updated = notBefore, reason, now.UTC()
		return nil
	})
	if err != nil && !errors.Is(err, errNotWaiting) {
		h.log.Debug("record request state", "agent", w.AgentID, "request", w.RequestID, "err", err)
	}
}

var errNotWaiting = errors.New("the request no longer waits")

// release claims w, spends its budgets and queues it again. A refusing
// budget is returned with when it will have room; the claim is then the
// caller's to drop (rescheduleWaiting).
func (h *Hub) release(ctx context.Context, w hub.WaitingRequest, spends []pace.Spend) (time.Time, *pace.Spend, error) {
	now := time.Now()
	if _, err := h.store.ClaimWaiting(ctx, w.AgentID, w.RequestID, w.Parked, h.instance, now, now.Add(claimFor)); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrStale) {
			h.waiting.remove(w.AgentID, w.RequestID, w.Parked)
		}
		return time.Time{}, nil, err
	}
	msgID := store.RequeueID(w.AgentID, w.RequestID, w.Parked)
	drop := func(why string) error {
		h.log.Debug("waiting request dropped", "agent", w.AgentID, "request", w.RequestID, "why", why)
		if err := h.store.DeleteWaiting(ctx, w.AgentID, w.RequestID, w.Parked); err != nil {
			return err
		}
		h.waiting.remove(w.AgentID, w.RequestID, w.Parked)
		return nil
	}
	st, err := h.store.GetRequest(ctx, w.AgentID, w.RequestID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return time.Time{}, nil, drop("its state has expired")
	case err != nil:
		return time.Time{}, nil, err
	case st.QueueMsgID == msgID:
		// Released before by a hub that died before it could remove the
		// parking: its budgets are spent and the state is written; queue
		// it again (the stream keeps one copy).
	case st.State != stateWaiting && st.State != stateRetrying:
		return time.Time{}, nil, drop("the request went on without it: " + st.State)
	default:
		paid := ""
		if len(spends) > 0 {
			v, err := h.budgets.Take(ctx, spends)
			if err != nil {
				return time.Time{}, nil, err
			}
			if !v.OK {
				return v.RetryAt, &v.Denied, nil
			}
			paid = w.CA
		}
		// The state names the new message before it exists: a copy
		// handled meanwhile is stale, and the new one never is.
		_, err := h.store.UpdateRequest(ctx, w.AgentID, w.RequestID, func(st *hub.RequestState) error {
			if st.State != stateWaiting && st.State != stateRetrying {
				return errNotWaiting
			}
			st.State, st.NextTry, st.WaitReason = stateQueued, time.Time{}, ""
			st.QueueMsgID, st.PaidCA, st.Updated = msgID, paid, now.UTC()
			return nil
		})
		if err != nil {
			// Budgets spent for nothing are lost for one token interval,
			// never overspent.
			return time.Time{}, nil, err
		}
	}
	if _, err := h.store.Requeue(ctx, w.AgentID, w.RequestID, msgID, w.Request); err != nil {
		// The claim runs out and a hub tries again (the case above).
		return time.Time{}, nil, err
	}
	if err := h.store.DeleteWaiting(ctx, w.AgentID, w.RequestID, w.Parked); err != nil && !errors.Is(err, store.ErrStale) {
		h.log.Debug("remove released waiting request", "agent", w.AgentID, "request", w.RequestID, "err", err)
	}
	h.waiting.remove(w.AgentID, w.RequestID, w.Parked)
	h.log.Debug("waiting request queued again", "agent", w.AgentID, "request", w.RequestID, "waited", now.Sub(w.Since).Round(time.Second))
	return time.Time{}, nil, nil
}
