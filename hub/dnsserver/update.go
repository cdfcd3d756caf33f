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

// SetUpdateHandler makes the server hand UPDATE messages to fn instead of
// answering NOTIMP. Call it before Start.
func (s *Server) SetUpdateHandler(fn UpdateFunc) { s.update = fn }

// Serves reports whether fqdn is inside a zone the server answers for
// (the hub zone or a delegated one).
func (s *Server) Serves(fqdn string) bool {
	owner, ok := normalizeOwner(fqdn)
	return ok && s.view.Load().zone(owner) != nil
}
