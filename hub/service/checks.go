package service

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/delegation"
	"github.com/certfleet/certfleet/shared"
)

// unreachableError marks a delegation check that could not be made; the
// request is retried rather than refused.
type unreachableError struct{ msg string }

func (e *unreachableError) Error() string { return e.msg }

// checkDelegation refuses, before any order, a name whose challenge the hub
// cannot answer, naming the record the operator must create.
func (h *Hub) checkDelegation(ctx context.Context, names []string) error {
	seen := map[string]bool{}
	for _, n := range names {
		d, err := h.coveringDomain(ctx, n)
		if err != nil {
			return err
		}
		if d.Mode != hub.ModeCNAME || !h.cfg.Issuance.CheckDelegation {
			continue
		}
		owner := hub.ChallengeName(n)
		if seen[owner] {
			continue
		}
		seen[owner] = true
		f := h.checker.CheckCNAME(ctx, owner, d.CNAMETarget(h.cfg.DNS.Domain))
		if f.Unreachable {
			return &unreachableError{msg: "could not check the delegation of " + n + ": " + f.Found}
		}
		if !f.OK {
			return shared.Errorf(shared.CodeNameNotDelegated, "%s is not delegated to the hub: %s (found: %s)", n, f.Fix, f.Found)
		}
	}
	return nil
}

// checkProfile refuses a profile the CA does not offer.
func (h *Hub) checkProfile(ctx context.Context, ca, profile string) error {
	iss, err := h.issuer(ctx, ca)
	if err != nil {
		return err
	}
	profiles, err := iss.Profiles(ctx)
	if err != nil {
		return fmt.Errorf("read the CA's profiles: %w", err)
	}
	if _, ok := profiles[profile]; ok {
		return nil
	}
	var known []string
	for p := range profiles {
		known = append(known, p)
	}
	sort.Strings(known)
	return shared.Errorf(shared.CodeUnknownProfile, "profile %q is not offered by CA %q (offered: %s)",
		profile, iss.Name(), strings.Join(known, ", "))
}

// checkDomains runs the delegation check for the given domains (all when
// names is empty) and returns one finding each.
func (h *Hub) checkDomains(ctx context.Context, names []string) ([]delegation.Finding, error) {
	domains, bad, err := h.store.ListDomains(ctx)
	if err != nil {
		return nil, err
	}
	h.logDamaged("domains to check", bad)
	var out []delegation.Finding
	for _, d := range domains {
		if len(names) > 0 && !slices.Contains(names, d.Name) {
			continue
		}
		if d.Mode == hub.ModeZone {
			out = append(out, h.checker.CheckZone(ctx, d.Name, h.cfg.DNS.NSName))
		} else {
			out = append(out, h.checker.CheckCNAME(ctx, hub.ChallengeName(d.Name), d.CNAMETarget(h.cfg.DNS.Domain)))
		}
	}
	for _, n := range names {
		if !slices.ContainsFunc(domains, func(d hub.Domain) bool { return d.Name == n }) {
			out = append(out, delegation.Finding{Name: n, Fix: fmt.Sprintf("%s is not registered: run `certfleet-hub domain add %s`", n, n)})
		}
	}
	return out, nil
}
