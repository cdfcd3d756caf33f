package issuer

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"
)

// The order flow is driven here rather than by lego's Certifier, which
// creates the order internally: a hub killed mid-order must be able to
// pick the same order up again, or a retry could have a second certificate
// issued. lego's api.Core still does the protocol (JWS, nonces, bad-nonce
// retries).

// Why a valid order's certificate does not serve the request. A resumed
// order that ends so is replaced by a new one.
var (
	// errOtherKey: the order was finalized with another CSR.
	errOtherKey = errors.New("the issued certificate's public key is not the CSR's")
	// errExpired: the order was issued so long ago that the certificate
	// has expired.
	errExpired = errors.New("the issued certificate has expired")
)

// ErrOrderUnrecorded, wrapped by an OnOrder error, says the order is
// surely not on record (not merely that recording it failed, which may
// have stored it anyway): Obtain then deactivates its authorizations,
// since nobody will resume it.
var ErrOrderUnrecorded = errors.New("order not recorded")

// unclassifiedError carries an error that did not come from the CA (the
// caller's OnOrder, a profile check) past classify.
type unclassifiedError struct{ err error }

func (e *unclassifiedError) Error() string { return e.err.Error() }
func (e *unclassifiedError) Unwrap() error { return e.err }

// orderRun is one Obtain call.
type orderRun struct {
	i     *Issuer
	req   Request
	names []string
	log   *slog.Logger

	orderURL string // the order worked on
}

// obtain resumes req.OrderURL if it can, else creates an order, and takes
// the order to an issued certificate.
func (r *orderRun) obtain(ctx context.Context) (*Certificate, error) {
	if r.req.OrderURL != "" {
		order, retryAfter, ok, err := r.resume(ctx, r.req.OrderURL)
		if err != nil {
			return nil, err
		}
		if ok {
			cert, err := r.complete(ctx, order, retryAfter)
			if !errors.Is(err, errOtherKey) && !errors.Is(err, errExpired) {
				return cert, err
			}
			r.log.Warn("the resumed order's certificate does not serve the request; ordering anew",
				"order", r.orderURL, "reason", err)
		}
	}
	order, err := r.create(ctx)
	if err != nil {
		return nil, err
	}
	return r.complete(ctx, order, 0)
}

// resume fetches the order at orderURL and reports whether this request
// can carry it on; false means a new order is needed (it is invalid,
// unknown to the CA, or for other names or another profile). Errors that
// leave the order's state unknown are returned instead: ordering anew then
// could issue a second certificate.
func (r *orderRun) resume(ctx context.Context, orderURL string) (acme.ExtendedOrder, time.Duration, bool, error) {
	log := r.log.With("order", orderURL)
	if !r.i.atCA(orderURL) {
		log.Warn("the order is not at this CA; ordering anew")
		return acme.ExtendedOrder{}, 0, false, nil
	}
	order, status, retryAfter, err := r.i.getOrder(ctx, orderURL)
	switch {
	case err != nil && orderGone(status, err):
		log.Warn("the CA does not know the order; ordering anew", "err", err)
		return acme.ExtendedOrder{}, 0, false, nil
	case err != nil:
		return acme.ExtendedOrder{}, 0, false, fmt.Errorf("resume order %s: %w", orderURL, err)
	case order.Status == acme.StatusInvalid:
		log.Info("the order is invalid; ordering anew", "problem", order.Err())
		return acme.ExtendedOrder{}, 0, false, nil
	case !sameIdentifiers(order.Identifiers, r.names):
		log.Warn("the order is for other names; ordering anew", "order_names", identifierValues(order.Identifiers))
		return acme.ExtendedOrder{}, 0, false, nil
	case r.req.Profile != "" && order.Profile != "" && order.Profile != r.req.Profile:
		log.Warn("the order has another profile; ordering anew", "order_profile", order.Profile, "profile", r.req.Profile)
		return acme.ExtendedOrder{}, 0, false, nil
	}
	r.orderURL = orderURL
	log.Info("resuming order", "status", order.Status)
	return order, retryAfter, true, nil
}

// create places a new order and hands its URL to OnOrder.
func (r *orderRun) create(ctx context.Context) (acme.ExtendedOrder, error) {
	if r.req.Profile != "" {
		if err := r.i.checkProfile(ctx, r.req.Profile); err != nil {
			return acme.ExtendedOrder{}, &unclassifiedError{err}
		}
	}
	opts := &api.OrderOptions{Profile: r.req.Profile, ReplacesCertID: r.req.ReplacesCertID}
	order, err := r.i.core.Orders.New(ctx, r.names, opts)
	if err != nil && opts.ReplacesCertID != "" && r.i.replacesRejected(err) {
		r.log.Warn("CA rejected the order's replaces field; ordering without it",
			"replaces", opts.ReplacesCertID, "err", err)
		opts.ReplacesCertID = ""
		order, err = r.i.core.Orders.New(ctx, r.names, opts)
	}
	if err != nil {
		return acme.ExtendedOrder{}, err
	}
	if order.Location == "" {
		return acme.ExtendedOrder{}, errors.New("the CA returned no order URL")
	}
	r.orderURL = order.Location
	r.log.Debug("order created", "order", order.Location, "status", order.Status)
	if r.req.OnOrder != nil {
		if err := r.req.OnOrder(order.Location); err != nil {
			if errors.Is(err, ErrOrderUnrecorded) {
				// Nobody can resume an order that is surely not on record:
				// give its authorizations back, even when ctx has just been
				// cancelled (the caller learnt that it must stop).
				actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abandonTimeout)
				r.abandon(actx, order)
				cancel()
			}
			return acme.ExtendedOrder{}, &unclassifiedError{fmt.Errorf("record order %s: %w", order.Location, err)}
		}
	}
	return order, nil
}

// complete takes order from its status to the issued certificate:
// pending -> solve, ready -> finalize, processing -> wait, valid ->
// download. retryAfter is the CA's Retry-After on the response that
// carried order.
func (r *orderRun) complete(ctx context.Context, order acme.ExtendedOrder, retryAfter time.Duration) (*Certificate, error) {
	var (
		solved, finalized bool
		p                 poller
		last              = order.Status
	)
	for {
		if order.Status != last {
			p, last = poller{}, order.Status
		}
		// Each case either returns, or leaves the loop to fetch the order
		// again (after a wait where the CA is working).
		switch order.Status {
		case acme.StatusValid:
			return r.download(ctx, order)
		case acme.StatusInvalid:
			return nil, invalidOrder(order)
		case acme.StatusPending:
			if !solved {
				solved = true
				if err := r.solve(ctx, order); err != nil {
					r.abandon(ctx, order)
					return nil, err
				}
				retryAfter = 0
				break // all authorizations are valid: the order is ready now
			}
			if err := p.wait(ctx, retryAfter, "the order to become ready"); err != nil {
				return nil, err
			}
		case acme.StatusReady:
			if !finalized {
				finalized = true
				next, ra, err := r.finalize(ctx, order)
				if err == nil {
					order, retryAfter = next, ra
					continue
				}
				if !isProblem(err, acme.OrderNotReadyErrorType) {
					return nil, err
				}
				// Finalized meanwhile, or an authorization lapsed: the
				// order's status says which.
				r.log.Info("the CA says the order is not ready; checking it", "order", r.orderURL, "err", err)
				break
			}
			if err := p.wait(ctx, retryAfter, "the order to be finalized"); err != nil {
				return nil, err
			}
		case acme.StatusProcessing:
			if err := p.wait(ctx, retryAfter, "the certificate"); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("order %s has unknown status %q", r.orderURL, order.Status)
		}
		var err error
		order, _, retryAfter, err = r.i.getOrder(ctx, r.orderURL)
		if err != nil {
			return nil, fmt.Errorf("check order %s: %w", r.orderURL, err)
		}
	}
}

// finalize sends the CSR and returns the order as the CA now reports it.
func (r *orderRun) finalize(ctx context.Context, order acme.ExtendedOrder) (acme.ExtendedOrder, time.Duration, error) {
	if order.Finalize == "" {
		return order, 0, fmt.Errorf("order %s has no finalize URL", r.orderURL)
	}
	fctx, x := withExchange(ctx, order.Finalize)
	next, err := r.i.core.Orders.UpdateForCSR(fctx, order.Finalize, r.req.CSR.Raw)
	if err != nil {
		return order, 0, fmt.Errorf("finalize order %s: %w", r.orderURL, err)
	}
	_, retryAfter := x.result()
	next.Location = r.orderURL
	r.log.Debug("order finalized", "order", r.orderURL, "status", next.Status)
	return next, retryAfter, nil
}

// download fetches a valid order's certificate chain.
func (r *orderRun) download(ctx context.Context, order acme.ExtendedOrder) (*Certificate, error) {
	if order.Certificate == "" {
		return nil, fmt.Errorf("valid order %s has no certificate URL", r.orderURL)
	}
	raw, err := r.i.core.Certificates.Get(ctx, order.Certificate, true)
	if err != nil {
		return nil, fmt.Errorf("download certificate %s: %w", order.Certificate, err)
	}
	chainPEM, certs, err := parseChain(raw.Cert)
	if err != nil {
		return nil, fmt.Errorf("download certificate %s: %w", order.Certificate, err)
	}
	leaf := certs[0]
	if pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(r.req.CSR.PublicKey) {
		return nil, fmt.Errorf("order %s: %w", r.orderURL, errOtherKey)
	}
	if time.Now().After(leaf.NotAfter) {
		return nil, fmt.Errorf("order %s: %w (not after %s)", r.orderURL, errExpired, leaf.NotAfter.Format(time.RFC3339))
	}
	return &Certificate{ChainPEM: chainPEM, Leaf: leaf, CertURL: order.Certificate}, nil
}

// abandonTimeout bounds abandoning an order nobody recorded.
const abandonTimeout = 10 * time.Second

// abandon deactivates the order's pending authorizations after a failed
// attempt, as lego does, so they do not count against the CA's limit on
// pending authorizations; the order then turns invalid. Not once ctx has
// ended: a stopping hub leaves the order to be resumed.
func (r *orderRun) abandon(ctx context.Context, order acme.ExtendedOrder) {
	if ctx.Err() != nil {
		return
	}
	for _, u := range order.Authorizations {
		authz, err := r.i.core.Authorizations.Get(ctx, u)
		if err != nil || authz.Status != acme.StatusPending {
			continue
		}
		if err := r.i.core.Authorizations.Deactivate(ctx, u); err != nil {
			r.log.Warn("deactivate authorization", "authorization", u, "err", err)
		}
	}
}

// getOrder fetches the order at orderURL, with the HTTP status (0 if none
// came) and the CA's Retry-After.
func (i *Issuer) getOrder(ctx context.Context, orderURL string) (acme.ExtendedOrder, int, time.Duration, error) {
	xctx, x := withExchange(ctx, orderURL)
	order, err := i.core.Orders.Get(xctx, orderURL)
	status, retryAfter := x.result()
	order.Location = orderURL
	return order, status, retryAfter, err
}

// OrderState returns the status of the order at orderURL: "pending",
// "ready", "processing", "valid" or "invalid". It fails with
// ErrOrderNotFound when the order is not this account's at this CA.
func (i *Issuer) OrderState(ctx context.Context, orderURL string) (string, error) {
	op := fmt.Sprintf("get order %s from CA %q", orderURL, i.name)
	if !i.atCA(orderURL) {
		return "", fmt.Errorf("%s: %w: the URL is not at this CA", op, ErrOrderNotFound)
	}
	order, status, _, err := i.getOrder(ctx, orderURL)
	if err != nil {
		if orderGone(status, err) {
			return "", fmt.Errorf("%s: %w: %w", op, ErrOrderNotFound, err)
		}
		return "", classify(op, err)
	}
	return order.Status, nil
}

// atCA reports whether u is an HTTPS URL on the host of the CA's
// directory or newOrder URL. A stored order URL of another CA must not be
// sent this account's signature, nor count as this CA's order.
func (i *Issuer) atCA(u string) bool {
	a, err := url.Parse(u)
	if err != nil || a.Scheme != "https" || a.Host == "" {
		return false
	}
	i.mu.Lock()
	newOrder := i.dir.NewOrderURL
	i.mu.Unlock()
	for _, ca := range []string{i.dirURL, newOrder} {
		if b, err := url.Parse(ca); err == nil && strings.EqualFold(a.Host, b.Host) {
			return true
		}
	}
	return false
}

// orderGone reports whether the CA's answer to fetching an order says it
// is not there for this account: 404, or Pebble's 403 for another
// account's order.
func orderGone(status int, err error) bool {
	if status == http.StatusNotFound {
		return true
	}
	p, ok := ProblemOf(err)
	return ok && (p.Status == http.StatusNotFound ||
		(p.Status == http.StatusForbidden && p.Type == acme.UnauthorizedErrorType))
}

// isProblem reports whether err carries an ACME problem of type typ.
func isProblem(err error, typ string) bool {
	p, ok := ProblemOf(err)
	return ok && p.Type == typ
}

// invalidOrder is the error for an order the CA marked invalid.
func invalidOrder(order acme.ExtendedOrder) error {
	if order.Error != nil {
		return fmt.Errorf("order %s is invalid: %w", order.Location, order.Error)
	}
	return fmt.Errorf("order %s is invalid", order.Location)
}

// sameIdentifiers reports whether ids are DNS identifiers for exactly
// names (as sets, ignoring case).
func sameIdentifiers(ids []acme.Identifier, names []string) bool {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[strings.ToLower(n)] = true
	}
	got := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id.Type != "dns" || !want[strings.ToLower(id.Value)] {
			return false
		}
		got[strings.ToLower(id.Value)] = true
	}
	return len(got) == len(want)
}

func identifierValues(ids []acme.Identifier) []string {
	out := make([]string, len(ids))
	for k, id := range ids {
		out[k] = id.Value
	}
	return out
}
