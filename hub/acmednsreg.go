package hub

import "time"

// ACMEDNSKeep is how many TXT values an acme-dns registration serves at
// once: the two latest, so an order for a name and its wildcard (two
// challenges at one owner name) validates.
const ACMEDNSKeep = 2

// ACMEDNSRegistration is an account of the acme-dns compatible API: a
// client that may set the TXT records of <Subdomain>.<hub zone>.
type ACMEDNSRegistration struct {
	// Username is a UUID; the API's X-Api-User.
	Username string `json:"username"`
	// PasswordHash is the bcrypt hash of the API key (X-Api-Key). Imported
	// registrations keep the hash acme-dns wrote.
	PasswordHash string `json:"password_hash"`
	// Subdomain is the first label of the record's name (a UUID for
	// registrations the hub makes).
	Subdomain string `json:"subdomain"`
	// AllowFrom are CIDRs the client must call from; empty allows any.
	AllowFrom []string `json:"allowfrom"`
	// Names optionally restricts which names may CNAME their
	// _acme-challenge to this registration (shown by `acmedns list`;
	// checked by `domain check`-style verification).
	Names []string `json:"names,omitempty"`
	// TXT holds the latest values, newest last, at most ACMEDNSKeep.
	TXT     []ACMEDNSTXT `json:"txt,omitempty"`
	Source  string       `json:"source"` // api, admin or import
	Created time.Time    `json:"created"`
}

// ACMEDNSTXT is one TXT value of a registration.
type ACMEDNSTXT struct {
	Value   string    `json:"value"`
	Updated time.Time `json:"updated"`
}
