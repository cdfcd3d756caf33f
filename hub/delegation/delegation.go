// Package delegation checks, through recursive resolvers as the CA would
// see them, that the operator created the DNS records that hand a name's
// DNS-01 challenge to the hub: a CNAME per name, or an NS delegation of a
// whole zone. Each finding says exactly which record to create or fix.
package delegation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Finding is the outcome of one check.
type Finding struct {
	// Name is the certificate name or zone checked.
	Name string `json:"name"`
	// OK is true when the record is in place.
	OK bool `json:"ok"`
	// Record is the record that must exist, in zone-file form.
	Record string `json:"record"`
	// Found describes what the resolvers returned instead, if not OK.
	Found string `json:"found,omitempty"`
	// Fix says what the operator must do, if not OK.
	Fix string `json:"fix,omitempty"`
	// Unreachable is true when no resolver answered; the record may be fine.
	Unreachable bool `json:"unreachable,omitempty"`
}

// Checker queries recursive resolvers.
type Checker struct {
	// Resolvers are "host:port" addresses, tried in order.
	Resolvers []string
	// Timeout bounds one query (default 3s).
	Timeout time.Duration
}

// ErrNoResolvers is returned when the checker has no resolver to ask.
var ErrNoResolvers = errors.New("no resolvers configured (issuance.resolvers)")

func (c *Checker) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	if len(c.Resolvers) == 0 {
		return nil, ErrNoResolvers
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 3 * time.Second
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	m.SetEdns0(1232, false)
	var errs []error
	for _, r := range c.Resolvers {
		for _, proto := range []string{"udp", "tcp"} {
			cl := &dns.Client{Net: proto, Timeout: timeout}
			qctx, cancel := context.WithTimeout(ctx, timeout)
			resp, _, err := cl.ExchangeContext(qctx, m, r)
			cancel()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s/%s: %w", r, proto, err))
				continue
			}
			if resp.Truncated && proto == "udp" {
				continue
			}
			if resp.Rcode == dns.RcodeServerFailure || resp.Rcode == dns.RcodeRefused {
				errs = append(errs, fmt.Errorf("%s: %s", r, dns.RcodeToString[resp.Rcode]))
				break
			}
			return resp, nil
		}
	}
	return nil, fmt.Errorf("query %s %s: %w", name, dns.TypeToString[qtype], errors.Join(errs...))
}

// CheckCNAME checks that _acme-challenge.<name> is a CNAME to target.
func (c *Checker) CheckCNAME(ctx context.Context, challengeName, target string) Finding {
	owner := dns.Fqdn(strings.ToLower(challengeName))
	want := dns.Fqdn(strings.ToLower(target))
	f := Finding{Name: strings.TrimSuffix(strings.TrimPrefix(owner, "_acme-challenge."), "."), Record: owner + " CNAME " + want}
	resp, err := c.query(ctx, owner, dns.TypeCNAME)
	if err != nil {
		f.Unreachable = true
		f.Found = err.Error()
		f.Fix = "could not check: no resolver answered; check issuance.resolvers and network"
		return f
	}
	var cnames, others []string
	for _, rr := range resp.Answer {
		switch v := rr.(type) {
		case *dns.CNAME:
			if strings.EqualFold(v.Hdr.Name, owner) {
				cnames = append(cnames, strings.ToLower(v.Target))
			}
		default:
			others = append(others, rr.String())
		}
	}
	switch {
	case len(cnames) == 1 && cnames[0] == want:
		f.OK = true
	case len(cnames) > 0:
		f.Found = owner + " CNAME " + strings.Join(cnames, ", ")
		f.Fix = "change the record to: " + f.Record
	case resp.Rcode == dns.RcodeNameError:
		f.Found = "NXDOMAIN (no record)"
		f.Fix = "create the record: " + f.Record
	default:
		if len(others) > 0 {
			f.Found = strings.Join(others, "; ")
		} else {
			f.Found = "no CNAME at " + owner
		}
		// Other records at the owner would conflict with the CNAME.
		f.Fix = "remove any other records at " + owner + " and create: " + f.Record
	}
	return f
}

// CheckZone checks that zone is delegated by NS to nsName.
func (c *Checker) CheckZone(ctx context.Context, zone, nsName string) Finding {
	zone = dns.Fqdn(strings.ToLower(zone))
	ns := dns.Fqdn(strings.ToLower(nsName))
	f := Finding{Name: strings.TrimSuffix(zone, "."), Record: zone + " NS " + ns}
	resp, err := c.query(ctx, zone, dns.TypeNS)
	if err != nil {
		f.Unreachable = true
		f.Found = err.Error()
		f.Fix = "could not check: no resolver answered; check issuance.resolvers and network"
		return f
	}
	var got []string
	for _, rr := range append(resp.Answer, resp.Ns...) {
		if v, ok := rr.(*dns.NS); ok && strings.EqualFold(v.Hdr.Name, zone) {
			got = append(got, strings.ToLower(v.Ns))
		}
	}
	for _, g := range got {
		if g == ns {
			f.OK = true
			return f
		}
	}
	if len(got) > 0 {
		f.Found = zone + " NS " + strings.Join(got, ", ")
		f.Fix = "delegate the zone to the hub only: " + f.Record
	} else {
		f.Found = "no NS records for " + zone
		f.Fix = "create the delegation in the parent zone: " + f.Record
	}
	return f
}

// NormalizeResolver adds port 53 to a resolver address without one.
func NormalizeResolver(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(strings.Trim(addr, "[]"), "53")
}
