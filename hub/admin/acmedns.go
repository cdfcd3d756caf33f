package admin

import (
	"time"

	"github.com/certfleet/certfleet/hub"
)

// acme-dns API verbs.
const (
	VerbACMEDNSRegister = "acmedns.register"
	VerbACMEDNSList     = "acmedns.list"
	VerbACMEDNSRemove   = "acmedns.remove"
	VerbACMEDNSImport   = "acmedns.import"
)

// ACMEDNSRegisterRequest creates a registration as POST /register would,
// optionally restricted to names.
type ACMEDNSRegisterRequest struct {
	AllowFrom []string `json:"allowfrom"`
	Names     []string `json:"names,omitempty"`
}

// ACMEDNSAccount is what acme-dns's /register returns, in its field
// order: acme-dns clients read this JSON as their stored account.
type ACMEDNSAccount struct {
	Username   string   `json:"username"`
	Password   string   `json:"password"`
	Fulldomain string   `json:"fulldomain"`
	Subdomain  string   `json:"subdomain"`
	Allowfrom  []string `json:"allowfrom"`
}

// ACMEDNSEntry is a registration as listed (never its key or hash).
type ACMEDNSEntry struct {
	Username   string    `json:"username"`
	Subdomain  string    `json:"subdomain"`
	Fulldomain string    `json:"fulldomain"`
	AllowFrom  []string  `json:"allowfrom"`
	Names      []string  `json:"names,omitempty"`
	Source     string    `json:"source"`
	Created    time.Time `json:"created"`
	LastUpdate time.Time `json:"last_update,omitzero"`
}

// ACMEDNSList lists registrations.
type ACMEDNSList struct {
	Registrations []ACMEDNSEntry `json:"registrations"`
}

// ACMEDNSRemoveRequest names a registration by username or subdomain.
type ACMEDNSRemoveRequest struct {
	Name string `json:"name"`
}

// ACMEDNSImportRequest carries registrations read from an acme-dns
// database, bcrypt hashes as acme-dns stored them.
type ACMEDNSImportRequest struct {
	Registrations []hub.ACMEDNSRegistration `json:"registrations"`
}

// ACMEDNSImportReply says what became of each registration.
type ACMEDNSImportReply struct {
	Imported []string `json:"imported"`
	// Skipped are usernames already present (left as they are).
	Skipped []string `json:"skipped,omitempty"`
	// Rejected explains registrations that could not be imported.
	Rejected []string `json:"rejected,omitempty"`
	// Warnings are entries imported with something dropped.
	Warnings []string `json:"warnings,omitempty"`
}

// VerbACMEDNSCheck checks, through the configured resolvers, that each
// name recorded on a registration (--name) has its _acme-challenge CNAME
// pointing at that registration. The reply is a DomainCheckReply.
const VerbACMEDNSCheck = "acmedns.check"

// ACMEDNSCheckRequest names registrations (username or subdomain); empty
// checks all.
type ACMEDNSCheckRequest struct {
	Registrations []string `json:"registrations,omitempty"`
}
