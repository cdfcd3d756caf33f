// Package dnsserver is the hub's authoritative DNS server for DNS-01
// challenges.
//
// It serves the hub zone (Config.Domain) and any zones delegated to the hub
// by NS (SetZones), and nothing else: names outside them are REFUSED and it
// never recurses. Every zone gets a synthesized SOA and NS; the hub zone can
// also carry static records (Config.Records). Challenge TXT records live in
// memory (PutTXT, DeleteTXT); a query never touches disk or takes a lock,
// because readers load an immutable snapshot that writers replace.
//
// Behaviour follows the RFCs an authoritative server is judged by: AA set on
// in-zone answers, NXDOMAIN only for names that do not exist (a name with
// other types, or an empty non-terminal such as the parent of
// "_acme-challenge.www.<zone>", is NODATA), SOA in the authority section of
// negative answers (RFC 2308), the query name's case echoed, TC when a UDP
// reply does not fit, EDNS(0) with BADVERS (RFC 6891), minimal ANY answers
// (RFC 8482), NOTIMP for opcodes other than QUERY, FORMERR for malformed
// queries, and per-source response rate limiting over UDP.
//
// The server owns its UDP and TCP loops rather than using dns.Server, so
// that one function (handle) takes raw query bytes to raw reply bytes: rate
// limiting happens before any parsing, and the fuzz test exercises exactly
// the code path the network does.
package dnsserver
