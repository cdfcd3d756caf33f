package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/store"
)

// RFC 2136 limits.
const (
	maxUpdateRRs  = 16
	updateTimeout = 10 * time.Second
	tsigFudge     = 300
	// peerUpdateWait bounds the wait for the other hubs' DNS to serve
	// what an UPDATE added; the client's own timeout is usually 10 s or
	// more.
	peerUpdateWait = 3 * time.Second
)

// rfc2136Key is the challenge key of a TXT value set by an UPDATE; its
// prefix keeps it apart from the hub's own order challenges, so deleting
// an RRset by UPDATE never removes those.
func rfc2136Key(fqdn, value string) string {
	sum := sha256.Sum256([]byte("rfc2136 " + fqdn + " " + value))
	return "u" + hex.EncodeToString(sum[:16])
}

// handleUpdate answers an RFC 2136 UPDATE: TSIG-signed with a known key,
// only TXT records at _acme-challenge names under the key's allowed
// names, inside a zone the hub serves; anything else is refused. Changes
// go through the store like the hub's own challenges, so every hub
// serves them, and expire with them (store.Options.ChallengeTTL).
func (h *Hub) handleUpdate(raw []byte, q *dns.Msg, src netip.Addr, tcp bool) []byte {
	reply := func(rcode int) *dns.Msg {
		r := new(dns.Msg)
		r.SetRcode(q, rcode)
		return r
	}
	plain := func(rcode int, why string) []byte {
		h.log.Info("dns update refused", "src", src, "reason", why, "rcode", dns.RcodeToString[rcode])
		out, err := reply(rcode).Pack()
		if err != nil {
			return nil
		}
		return out
	}
	ts := q.IsTsig()
	if ts == nil {
		return plain(dns.RcodeRefused, "not signed with TSIG")
	}
	ctx, cancel := context.WithTimeout(context.Background(), updateTimeout)
	defer cancel()
	key, rcode, why := h.verifyTSIG(ctx, raw, ts)
	if rcode != dns.RcodeSuccess {
		return plain(rcode, why)
	}
	// From here on every answer is signed.
	signed := func(rcode int, why string) []byte {
		if rcode != dns.RcodeSuccess {
			h.log.Info("dns update refused", "src", src, "key", key.Name, "reason", why, "rcode", dns.RcodeToString[rcode])
		}
		return h.signWith(key, ts, reply(rcode))
	}
	if len(q.Question) != 1 || q.Question[0].Qtype != dns.TypeSOA {
		return signed(dns.RcodeFormatError, "zone section must hold one SOA question")
	}
	zone := strings.ToLower(dns.Fqdn(q.Question[0].Name))
	if !h.dns.Serves(zone) {
		return signed(dns.RcodeNotAuth, "zone "+zone+" is not served by the hub")
	}
	if len(q.Answer) > 0 {
		return signed(dns.RcodeRefused, "prerequisites are not supported")
	}
	if len(q.Ns) == 0 || len(q.Ns) > maxUpdateRRs {
		return signed(dns.RcodeFormatError, "want 1 to 16 update records")
	}
	type change struct {
		add         bool
		all         bool
		name, value string
	}
	var changes []change
	for _, rr := range q.Ns {
		hd := rr.Header()
		name := strings.ToLower(dns.Fqdn(hd.Name))
		if !dns.IsSubDomain(zone, name) {
			return signed(dns.RcodeNotZone, name+" is outside zone "+zone)
		}
		if !key.TSIGAllows(name) {
			return signed(dns.RcodeRefused, name+" is not an _acme-challenge name this key may change")
		}
		switch {
		case hd.Class == dns.ClassINET && hd.Rrtype == dns.TypeTXT:
			v := strings.Join(rr.(*dns.TXT).Txt, "")
			if v == "" || len(v) > 255 {
				return signed(dns.RcodeFormatError, "txt value of "+name+" must be 1-255 bytes")
			}
			changes = append(changes, change{add: true, name: name, value: v})
		case hd.Class == dns.ClassNONE && hd.Rrtype == dns.TypeTXT:
			changes = append(changes, change{name: name, value: strings.Join(rr.(*dns.TXT).Txt, "")})
		case hd.Class == dns.ClassANY && (hd.Rrtype == dns.TypeTXT || hd.Rrtype == dns.TypeANY):
			changes = append(changes, change{all: true, name: name})
		default:
			return signed(dns.RcodeRefused, "only TXT records can be changed, got "+dns.TypeToString[hd.Rrtype]+" "+dns.ClassToString[hd.Class])
		}
	}
	// An RRset delete removes the values this hub serves at the name now
	// (only those set by UPDATE: the hub's own order challenges have other
	// keys and stay).
	var expanded []change
	for _, c := range changes {
		if !c.all {
			expanded = append(expanded, c)
			continue
		}
		for _, v := range h.dns.TXT(c.name) {
			expanded = append(expanded, change{name: c.name, value: v})
		}
	}
	for _, c := range expanded {
		var err error
		if c.add {
			err = h.store.PutChallenge(ctx, rfc2136Key(c.name, c.value), hub.Challenge{FQDN: c.name, Value: c.value, Created: time.Now().UTC()})
		} else {
			err = h.store.DeleteChallenge(ctx, rfc2136Key(c.name, c.value))
		}
		if err != nil {
			h.log.Error("dns update: store", "key", key.Name, "name", c.name, "err", err)
			return signed(dns.RcodeServerFailure, "store unavailable")
		}
	}
	// Answer once this hub's DNS shows the result, so a client that
	// checks right after sees it. A value that another source also holds
	// (an order's challenge with the same value) stays: wait only so long.
	deadline := time.Now().Add(2 * time.Second)
	for _, c := range expanded {
		for time.Now().Before(deadline) && slices.Contains(h.dns.TXT(c.name), c.value) != c.add {
			time.Sleep(2 * time.Millisecond)
		}
	}
	// And the other hubs' DNS (peers.go): the client's CA may ask any.
	pctx, cancel := context.WithTimeout(ctx, peerUpdateWait)
	for _, c := range expanded {
		if c.add {
			h.awaitPeersServe(pctx, c.name, c.value)
		}
	}
	cancel()
	h.log.Info("dns update applied", "src", src, "key", key.Name, "changes", len(changes))
	return signed(dns.RcodeSuccess, "")
}

// verifyTSIG finds the request's key and checks its MAC and time.
func (h *Hub) verifyTSIG(ctx context.Context, raw []byte, ts *dns.TSIG) (hub.TSIGKey, int, string) {
	key, err := h.store.GetTSIG(ctx, strings.TrimSuffix(ts.Hdr.Name, "."))
	if errors.Is(err, store.ErrNotFound) {
		return key, dns.RcodeNotAuth, "unknown TSIG key " + ts.Hdr.Name
	}
	if err != nil {
		h.log.Error("dns: read tsig key", "err", err)
		return key, dns.RcodeServerFailure, "store unavailable"
	}
	if !strings.EqualFold(dns.Fqdn(ts.Algorithm), dns.Fqdn(tsigAlgorithm(key.Algorithm))) {
		return key, dns.RcodeNotAuth, "algorithm " + ts.Algorithm + " is not the key's"
	}
	if err := dns.TsigVerify(raw, key.Secret, "", false); err != nil {
		return key, dns.RcodeNotAuth, "tsig verification failed for " + key.Name + ": " + err.Error()
	}
	return key, dns.RcodeSuccess, ""
}

// signWith signs r with key, chained to the request's MAC.
func (h *Hub) signWith(key hub.TSIGKey, ts *dns.TSIG, r *dns.Msg) []byte {
	r.SetTsig(dns.Fqdn(key.Name), tsigAlgorithm(key.Algorithm), tsigFudge, time.Now().Unix())
	out, _, err := dns.TsigGenerate(r, key.Secret, ts.MAC, false)
	if err != nil {
		h.log.Error("dns: sign reply", "key", key.Name, "err", err)
		return nil
	}
	return out
}

// signReply signs the answer to a TSIG-signed query (clients such as
// certbot's rfc2136 plugin sign their SOA lookups and insist on a signed
// answer).
func (h *Hub) signReply(raw []byte, q, r *dns.Msg) []byte {
	ts := q.IsTsig()
	ctx, cancel := context.WithTimeout(context.Background(), updateTimeout)
	defer cancel()
	key, rcode, why := h.verifyTSIG(ctx, raw, ts)
	if rcode != dns.RcodeSuccess {
		h.log.Info("dns: signed query refused", "reason", why)
		e := new(dns.Msg)
		e.SetRcode(q, rcode)
		out, err := e.Pack()
		if err != nil {
			return nil
		}
		return out
	}
	return h.signWith(key, ts, r)
}

// tsigAlgorithm maps a stored algorithm name to miekg/dns's.
func tsigAlgorithm(a string) string {
	if a == "hmac-sha512" {
		return dns.HmacSHA512
	}
	return dns.HmacSHA256
}
