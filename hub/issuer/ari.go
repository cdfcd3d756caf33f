package issuer

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-acme/lego/v5/acme/api"
)

// RenewalInfo is a CA's ACME Renewal Information (RFC 9773) for a
// certificate.
type RenewalInfo struct {
	// WindowStart and WindowEnd bound when the CA suggests renewing.
	WindowStart, WindowEnd time.Time
	// RetryAfter is when to ask again (the window may move); zero when the
	// CA did not say.
	RetryAfter time.Time
	// ExplanationURL is an optional page explaining the window, for the
	// operator (e.g. after a mass revocation).
	ExplanationURL string
}

// RenewAt picks the renewal time as RFC 9773 section 4.2 recommends: a
// uniformly random moment in the window, or now if that moment has passed.
func (r *RenewalInfo) RenewAt(now time.Time) time.Time {
	t := r.WindowStart
	if w := r.WindowEnd.Sub(r.WindowStart); w > 0 {
		t = t.Add(rand.N(w))
	}
	if t.Before(now) {
		return now
	}
	return t
}

// RenewalInfo asks the CA when leaf should be renewed. It fails with
// ErrNoARI when the CA has no renewalInfo endpoint or gives an invalid
// window.
func (i *Issuer) RenewalInfo(ctx context.Context, leaf *x509.Certificate) (*RenewalInfo, error) {
	op := fmt.Sprintf("get renewal info from CA %q", i.name)
	if leaf != nil {
		op += " for serial " + leaf.SerialNumber.Text(16)
	}
	id, err := CertID(leaf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	info, err := i.core.Certificates.GetRenewalInfo(ctx, id)
	if errors.Is(err, api.ErrNoARI) {
		return nil, fmt.Errorf("%s: %w", op, ErrNoARI)
	}
	if err != nil {
		return nil, classify(op, err)
	}
	ri := &RenewalInfo{
		WindowStart:    info.SuggestedWindow.Start,
		WindowEnd:      info.SuggestedWindow.End,
		ExplanationURL: info.ExplanationURL,
	}
	if info.RetryAfter > 0 {
		ri.RetryAfter = time.Now().Add(info.RetryAfter).Truncate(time.Second)
	}
	return ri, nil
}

// CertID returns leaf's ARI certificate identifier (RFC 9773 section 4.1):
// base64url(authority key id) "." base64url(serial), for Request's
// ReplacesCertID.
func CertID(leaf *x509.Certificate) (string, error) {
	if leaf == nil {
		return "", errors.New("ARI cert id: no certificate")
	}
	if len(leaf.AuthorityKeyId) == 0 {
		return "", errors.New("ARI cert id: the certificate has no authority key identifier")
	}
	if leaf.SerialNumber == nil || leaf.SerialNumber.Sign() <= 0 {
		return "", errors.New("ARI cert id: the certificate has no positive serial number")
	}
	id, err := api.MakeARICertID(leaf)
	if err != nil {
		return "", fmt.Errorf("ARI cert id: %w", err)
	}
	return id, nil
}
