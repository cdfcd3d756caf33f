package dnsserver

import (
	"net/netip"

	"github.com/miekg/dns"
)

// UpdateFunc answers an RFC 2136 UPDATE message: raw is the message as
// received (a TSIG MAC covers its exact bytes), q the parsed form. It
// returns the packed reply (signed when the request was), or nil to send
// nothing. It runs on the server's read loop: it must not block for long.
type UpdateFunc func(raw []byte, q *dns.Msg, src netip.Addr, tcp bool) []byte

// SignFunc signs the reply r to a TSIG-signed query q (raw as received)
// and returns it packed, or an unsigned error reply when the request's
// TSIG does not verify (RFC 8945: a signed request gets a signed answer).
type SignFunc func(raw []byte, q, r *dns.Msg) []byte

// SetUpdateHandler makes the server hand UPDATE messages to update
// instead of answering NOTIMP, and the replies to TSIG-signed queries to
// sign. Call it before Start.
func (s *Server) SetUpdateHandler(update UpdateFunc, sign SignFunc) {
	s.update, s.sign = update, sign
}

// Serves reports whether fqdn is inside a zone the server answers for
// (the hub zone or a delegated one).
func (s *Server) Serves(fqdn string) bool {
	owner, ok := normalizeOwner(fqdn)
	return ok && s.view.Load().zone(owner) != nil
}
