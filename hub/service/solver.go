package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/shared"
)

// solver writes DNS-01 TXT records into the hub's own zone: into the
// challenges bucket, which every hub's DNS server watches, and waits until
// the local DNS server serves the value.
type solver struct{ h *Hub }

// target maps a challenge owner name ("_acme-challenge.www.example.org.")
// to the name the hub's DNS answers for it.
func (s solver) target(ctx context.Context, challengeFQDN string) (string, error) {
	fqdn := strings.ToLower(challengeFQDN)
	if !strings.HasSuffix(fqdn, ".") {
		fqdn += "."
	}
	name := strings.TrimSuffix(strings.TrimPrefix(fqdn, "_acme-challenge."), ".")
	d, err := s.h.coveringDomain(ctx, name)
	if err != nil {
		return "", err
	}
	if d.Mode == hub.ModeZone {
		return fqdn, nil
	}
	return d.CNAMETarget(s.h.cfg.DNS.Domain), nil
}

func challengeKey(fqdn, value string) string {
	sum := sha256.Sum256([]byte(fqdn + " " + value))
	return hex.EncodeToString(sum[:16])
}

func (s solver) Present(ctx context.Context, challengeFQDN, value string) error {
	target, err := s.target(ctx, challengeFQDN)
	if err != nil {
		return err
	}
	c := hub.Challenge{FQDN: target, Value: value, Created: time.Now().UTC()}
	if err := s.h.store.PutChallenge(ctx, challengeKey(target, value), c); err != nil {
		return fmt.Errorf("store challenge for %s: %w", challengeFQDN, err)
	}
	// The watch feeds the DNS server within milliseconds; wait for it so the
	// CA never asks before the answer exists, here and at every other hub
	// (peers.go).
	if !s.h.awaitServed(ctx, target, value, 15*time.Second) {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("challenge for %s not served by the hub's DNS at %s: %w", challengeFQDN, target, err)
		}
		return fmt.Errorf("challenge for %s not served by the hub's DNS at %s within 15s", challengeFQDN, target)
	}
	s.h.awaitPeersServe(ctx, target, value)
	return nil
}

func (s solver) CleanUp(ctx context.Context, challengeFQDN, value string) error {
	target, err := s.target(ctx, challengeFQDN)
	if err != nil {
		return err
	}
	if err := s.h.store.DeleteChallenge(ctx, challengeKey(target, value)); err != nil {
		return fmt.Errorf("remove challenge for %s: %w", challengeFQDN, err)
	}
	return nil
}

// coveringDomain finds the delegation that answers name's challenge: a
// delegated zone the name is in (the deepest), or the name's own CNAME
// delegation (a wildcard uses its base name's).
func (h *Hub) coveringDomain(ctx context.Context, name string) (hub.Domain, error) {
	name = strings.TrimPrefix(shared.NormalizeName(name), "*.")
	if d, err := h.store.GetDomain(ctx, name); err == nil && d.Mode == hub.ModeCNAME {
		return d, nil
	}
	labels := strings.Split(name, ".")
	for i := range labels {
		zone := strings.Join(labels[i:], ".")
		d, err := h.store.GetDomain(ctx, zone)
		if err == nil && d.Mode == hub.ModeZone {
			return d, nil
		}
	}
	return hub.Domain{}, shared.Errorf(shared.CodeNameNotDelegated,
		"no delegation for %q: run `certfleet-hub domain add %s` and create the record it prints (_acme-challenge.%s. CNAME <label>.%s.), or delegate a parent zone to the hub",
		name, name, name, shared.NormalizeName(h.cfg.DNS.Domain))
}
