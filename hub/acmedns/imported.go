package acmedns

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/certfleet/certfleet/hub"
)

// CheckImported validates a registration read from an acme-dns database
// and returns it cleaned: canonical username, allowfrom entries acme-dns
// itself would ignore dropped (with a warning), only non-empty TXT values
// kept, the hub.ACMEDNSKeep latest, oldest first. The bcrypt hash is kept
// as it is, so the client's stored key keeps working.
func CheckImported(r hub.ACMEDNSRegistration, now time.Time) (hub.ACMEDNSRegistration, string, error) {
	user, err := ParseUsername(r.Username)
	if err != nil {
		return r, "", fmt.Errorf("registration %q: %w", r.Username, err)
	}
	r.Username = user
	if _, err := bcrypt.Cost([]byte(r.PasswordHash)); err != nil {
		return r, "", fmt.Errorf("registration %s: password is not a bcrypt hash: %w", user, err)
	}
	if !ValidSubdomain(r.Subdomain) {
		return r, "", fmt.Errorf("registration %s: subdomain %q is not one DNS label", user, r.Subdomain)
	}
	var warns []string
	var af []string
	for _, c := range r.AllowFrom {
		clean, err := ParseAllowFrom([]string{c})
		if err != nil {
			warns = append(warns, fmt.Sprintf("allowfrom %q dropped (acme-dns ignores it too)", c))
			continue
		}
		af = append(af, clean...)
	}
	r.AllowFrom = af
	var txt []hub.ACMEDNSTXT
	for _, t := range r.TXT {
		if t.Value == "" {
			continue // acme-dns's placeholder rows
		}
		if len(t.Value) > 255 {
			warns = append(warns, fmt.Sprintf("txt value of %d bytes dropped", len(t.Value)))
			continue
		}
		txt = append(txt, t)
	}
	slices.SortStableFunc(txt, func(a, b hub.ACMEDNSTXT) int { return a.Updated.Compare(b.Updated) })
	if n := len(txt) - hub.ACMEDNSKeep; n > 0 {
		txt = txt[n:]
	}
	r.TXT = txt
	r.Source = "import"
	if r.Created.IsZero() {
		r.Created = now.UTC()
	}
	warn := ""
	if len(warns) > 0 {
		warn = "registration " + user + ": " + strings.Join(warns, "; ")
	}
	return r, warn, nil
}
