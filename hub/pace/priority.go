package pace

import "time"

// Priority orders requests that wait for the same budgets or slots.
type Priority struct {
	// Renewal: the request replaces a certificate that is in use.
	Renewal bool
	// Due is when the replaced certificate expires (renewals); zero for a
	// first issuance.
	Due time.Time
	// Since is when the request started waiting.
	Since time.Time
}

// Before reports whether p goes before q: renewals before first
// issuances, of renewals the one whose certificate expires first, and
// otherwise the one that has waited longest. A 10,000-host first rollout
// thereby never keeps a renewal waiting behind it.
func (p Priority) Before(q Priority) bool {
	if p.Renewal != q.Renewal {
		return p.Renewal
	}
	if p.Renewal && !p.Due.Equal(q.Due) {
		switch {
		case p.Due.IsZero():
			return false
		case q.Due.IsZero():
			return true
		}
		return p.Due.Before(q.Due)
	}
	return p.Since.Before(q.Since)
}
