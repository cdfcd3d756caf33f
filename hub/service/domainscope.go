package service

import (
	"strings"

	"github.com/certfleet/certfleet/shared"
)

// checkDomainScope refuses a delegation that overlaps the hub's own zone
// (both normalised): the zone itself and any name under it are the hub's
// already, and a delegated zone above it would make the hub authoritative
// for its own parent — including the NS records that delegate the hub's
// zone to it, and every unrelated name in between. CNAME mode for a parent
// name is fine: it delegates only that name's _acme-challenge record.
func checkDomainScope(name, hubZone string, zoneMode bool) error {
	switch {
	case name == hubZone:
		return shared.Errorf(shared.CodeInvalidName, "%q is the hub's own zone (dns.domain): the hub answers for it already; register the names you want certificates for instead", name)
	case strings.HasSuffix(name, "."+hubZone):
		return shared.Errorf(shared.CodeInvalidName, "%q is inside the hub's own zone %s (dns.domain): names there are challenge targets, not names to certify", name, hubZone)
	case zoneMode && strings.HasSuffix(hubZone, "."+name):
		return shared.Errorf(shared.CodeInvalidName, "zone %q is a parent of the hub's own zone %s (dns.domain): delegating it would make the hub authoritative above its own zone, for the NS records that delegate %s and every other name in %s; register its names one by one (without --zone) or delegate a sibling zone such as corp.%s",
			name, hubZone, hubZone, name, name)
	}
	return nil
}
