// Package resolver is a small stand-in for "the public DNS" in tests and
// the demo: it acts like a recursive resolver for a closed test world.
//
// It holds records of its own (parent zones: the _acme-challenge CNAMEs
// operators publish, addresses, SOAs) and forwards names at or under
// configured zones to their authoritative servers (the hub's DNS). Like a
// real recursive resolver it sets RA, chases CNAMEs across its own records
// and forwarded zones, and answers with the whole chain plus the final
// records in one message: Pebble's validator sends one TXT query over TCP
// with RD set and does not follow CNAMEs itself.
//
// It never talks to any address but the Forward servers it is given, and
// it caches nothing, so a change at the hub is visible at once.
package resolver
