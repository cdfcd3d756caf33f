// Package web is the hub's dashboard: server-rendered pages (html/template,
// embedded CSS, no JavaScript) over the same operations as the admin API.
//
// Security: users log in with a name and password (bcrypt hashes kept by
// the hub, see `certfleet-hub user add`), or, when the listener verifies
// client certificates (Options.ClientCerts), by a certificate whose subject
// CN or SAN e-mail names a user; sessions are random 256-bit
// tokens in an HttpOnly, SameSite=Strict cookie (Secure over HTTPS); every
// form carries the session's CSRF token and every POST checks it; failed
// logins lock the name, and slow the source address, for a while. Admins
// act; read-only users only look. Every response forbids framing and
// caching, and the content security policy allows no script at all.
package web
