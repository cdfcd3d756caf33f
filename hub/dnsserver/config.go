package dnsserver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/certfleet/certfleet/shared"
)

// DefaultTXTTTL is the TTL of challenge TXT answers when Config.TXTTTL is 0.
// One second, like acme-dns: a CA must see a new value at once.
const DefaultTXTTTL = 1

// Config configures a Server.
type Config struct {
	// Listen is "host:port"; UDP and TCP bind the same address. Host is an
	// IP address or empty (all addresses). Port 0 picks a free port (tests).
	Listen string
	// Domain is the hub zone, e.g. "acme.example.org".
	Domain string
	// NSName is the name server name in every zone's NS and SOA, e.g.
	// "ns1.acme.example.org".
	NSName string
	// NSAdmin is the SOA RNAME as a mail address or a name, e.g.
	// "hostmaster@example.org" or "hostmaster.example.org". Empty means
	// "hostmaster.<Domain>".
	NSAdmin string
	// Records are static records of the hub zone in zone-file syntax, e.g.
	// "acme.example.org. A 198.51.100.7". Relative names are relative to
	// Domain; a missing TTL means 3600.
	Records []string
	// TXTTTL is the TTL of challenge TXT answers; 0 means DefaultTXTTTL.
	TXTTTL uint32
	// RateLimit is the number of UDP responses per second allowed to one
	// source prefix (/24 for IPv4, /56 for IPv6); 0 turns limiting off.
	RateLimit int
}

// Validate checks c. Every error names the field it is about, e.g.
// "dns.domain: ...".
func (c Config) Validate() error {
	var errs []error
	if err := validateListen(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("dns.listen: %w", err))
	}
	domain := shared.NormalizeName(c.Domain)
	domainErr := validateZoneName(domain)
	if domainErr != nil {
		errs = append(errs, fmt.Errorf("dns.domain: %w", domainErr))
	}
	if c.NSName == "" {
		errs = append(errs, errors.New("dns.nsname: missing"))
	} else if err := validateZoneName(shared.NormalizeName(c.NSName)); err != nil {
		errs = append(errs, fmt.Errorf("dns.nsname: %w", err))
	}
	if _, err := mailbox(c.NSAdmin, domain); err != nil {
		errs = append(errs, fmt.Errorf("dns.nsadmin: %w", err))
	}
	if c.RateLimit < 0 {
		errs = append(errs, fmt.Errorf("dns.rate_limit: %d: must be 0 (off) or more", c.RateLimit))
	}
	if domainErr == nil {
		// Records are checked against the zone, so only with a valid domain.
		if _, err := parseRecords(c.Records, dns.Fqdn(domain)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c Config) txtTTL() uint32 {
	if c.TXTTTL == 0 {
		return DefaultTXTTTL
	}
	return c.TXTTTL
}

func validateListen(listen string) error {
	if listen == "" {
		return errors.New("missing")
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("%q: want host:port: %w", listen, err)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("%q: host must be an IP address or empty", listen)
		}
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return fmt.Errorf("%q: port must be a number 0-65535", listen)
	}
	return nil
}

// validateZoneName checks a normalized (lower case, no trailing dot) name
// used as a zone or a name server name.
func validateZoneName(name string) error {
	if strings.HasPrefix(name, "*.") {
		return fmt.Errorf("%q: a wildcard is not a zone", name)
	}
	if err := shared.ValidateDNSName(name); err != nil {
		var se *shared.Error
		if errors.As(err, &se) {
			return errors.New(se.Message) // the field name says what it is about
		}
		return err
	}
	return nil
}

// mailbox turns an SOA RNAME given as a mail address or a name into a
// domain name: "host.master@example.org" -> "host\.master.example.org.".
func mailbox(admin, domain string) (string, error) {
	admin = strings.TrimSpace(admin)
	if admin == "" {
		return dns.Fqdn("hostmaster." + domain), nil
	}
	if local, host, ok := strings.Cut(admin, "@"); ok {
		if local == "" || strings.ContainsAny(local, " \\@") {
			return "", fmt.Errorf("%q: bad mailbox part", admin)
		}
		host = shared.NormalizeName(host)
		if err := validateZoneName(host); err != nil {
			return "", fmt.Errorf("%q: %w", admin, err)
		}
		// A dot in the local part would read as a label break.
		return strings.ReplaceAll(local, ".", `\.`) + "." + host + ".", nil
	}
	name := shared.NormalizeName(admin)
	if _, ok := dns.IsDomainName(name); !ok || strings.Count(name, ".") < 2 {
		return "", fmt.Errorf("%q: want a mail address or a name like hostmaster.example.org", admin)
	}
	return name + ".", nil
}

// parseRecords parses static records of zone origin (lower case FQDN).
// Errors name the record: `dns.records[2] "www A x": ...`.
func parseRecords(records []string, origin string) ([]dns.RR, error) {
	out := make([]dns.RR, 0, len(records))
	owners := make(map[string]map[uint16]bool)
	for i, text := range records {
		rr, err := parseRecord(text, origin)
		if err != nil {
			return nil, fmt.Errorf("dns.records[%d] %q: %w", i, text, err)
		}
		owner := rr.Header().Name
		types := owners[owner]
		if types == nil {
			types = make(map[uint16]bool)
			owners[owner] = types
		}
		t := rr.Header().Rrtype
		if (t == dns.TypeCNAME && len(types) > 0 && !types[dns.TypeCNAME]) || (t != dns.TypeCNAME && types[dns.TypeCNAME]) {
			return nil, fmt.Errorf("dns.records[%d] %q: a CNAME owner can have no other records", i, text)
		}
		if t == dns.TypeCNAME && types[dns.TypeCNAME] {
			return nil, fmt.Errorf("dns.records[%d] %q: a second CNAME at one name", i, text)
		}
		types[t] = true
		out = append(out, rr)
	}
	return out, nil
}

func parseRecord(text, origin string) (dns.RR, error) {
	zp := dns.NewZoneParser(strings.NewReader(text), origin, "")
	zp.SetDefaultTTL(3600)
	rr, ok := zp.Next()
	if err := zp.Err(); err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("no record")
	}
	if _, more := zp.Next(); more || zp.Err() != nil {
		return nil, errors.New("more than one record")
	}
	h := rr.Header()
	h.Name = strings.ToLower(h.Name)
	switch {
	case h.Class != dns.ClassINET:
		return nil, fmt.Errorf("class %s: only IN is served", dns.Class(h.Class))
	case !dns.IsSubDomain(origin, h.Name):
		return nil, fmt.Errorf("owner %s is outside the zone %s", h.Name, origin)
	case strings.HasPrefix(h.Name, "*.") || strings.Contains(h.Name, ".*."):
		return nil, errors.New("wildcard owners are not supported")
	case h.Rrtype == dns.TypeSOA:
		return nil, errors.New("the SOA is made by the server")
	case h.Rrtype == dns.TypeNS && h.Name != origin:
		return nil, errors.New("NS below the zone apex (a delegation) is not supported")
	case h.Rrtype == dns.TypeCNAME && h.Name == origin:
		return nil, errors.New("CNAME at the zone apex")
	}
	return rr, nil
}
