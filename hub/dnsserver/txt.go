package dnsserver

import (
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// txtEntry is one challenge value and the id that owns it.
type txtEntry struct {
	id, value string
}

// PutTXT serves value in a TXT record at fqdn under id, replacing the value
// id had there. Several ids can hold values at one name at once (several
// orders for one name, or a name and its wildcard). A name outside the
// served zones is kept but not answered until a zone holds it. An invalid
// name is logged and ignored.
func (s *Server) PutTXT(fqdn, id, value string) {
	owner, ok := s.txtOwner(fqdn)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	entries := s.entries[owner]
	i := slices.IndexFunc(entries, func(e txtEntry) bool { return e.id == id })
	switch {
	case i < 0:
		entries = append(entries, txtEntry{id, value})
	case entries[i].value == value:
		return // no change, no new serial
	default:
		entries[i].value = value
	}
	s.entries[owner] = entries
	s.publishTXT(owner, entries)
	s.log.Debug("dns challenge record set", "fqdn", owner, "id", id, "values", len(entries))
}

// DeleteTXT stops serving the value id holds at fqdn. Deleting what is not
// there is a no-op.
func (s *Server) DeleteTXT(fqdn, id string) {
	owner, ok := s.txtOwner(fqdn)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	entries := s.entries[owner]
	i := slices.IndexFunc(entries, func(e txtEntry) bool { return e.id == id })
	if i < 0 {
		return
	}
	// The published view holds copies, so entries can change in place.
	entries = slices.Delete(entries, i, i+1)
	if len(entries) == 0 {
		delete(s.entries, owner)
	} else {
		s.entries[owner] = entries
	}
	s.publishTXT(owner, entries)
	s.log.Debug("dns challenge record removed", "fqdn", owner, "id", id, "values", len(entries))
}

// TXT returns the challenge values a TXT query for fqdn is answered with
// now: nil when fqdn is outside the served zones. The hub polls it to know
// a value is visible before it tells the CA to validate.
func (s *Server) TXT(fqdn string) []string {
	owner, ok := normalizeOwner(fqdn)
	if !ok {
		return nil
	}
	v := s.view.Load()
	if v.zone(owner) == nil {
		return nil
	}
	if set := v.txtSetAt(owner); set != nil {
		return slices.Clone(set.values)
	}
	return nil
}

func (s *Server) txtOwner(fqdn string) (string, bool) {
	owner, ok := normalizeOwner(fqdn)
	if !ok {
		s.log.Warn("dns challenge record ignored: invalid name", "fqdn", fqdn)
	}
	return owner, ok
}

// normalizeOwner returns fqdn as a lower case FQDN, if it is a valid name.
func normalizeOwner(fqdn string) (string, bool) {
	owner := dns.Fqdn(strings.ToLower(strings.TrimSpace(fqdn)))
	if owner == "." {
		return "", false
	}
	if _, ok := dns.IsDomainName(owner); !ok {
		return "", false
	}
	return owner, true
}

// publishTXT swaps in a view where owner has entries (none: removed).
// s.mu must be held.
func (s *Server) publishTXT(owner string, entries []txtEntry) {
	old := s.view.Load()
	v := old.with()
	had := v.txtSetAt(owner) != nil
	if len(entries) == 0 {
		v.txt.del(owner)
		if had {
			addAncestors(v.ents, owner, -1)
		}
	} else {
		v.txt.set(owner, newTXTSet(entries))
		if !had {
			addAncestors(v.ents, owner, +1)
		}
	}
	v.serial = nextSerial(old.serial, time.Now())
	s.view.Store(v)
}

// addAncestors adds delta to the count of every proper ancestor of owner.
func addAncestors(ents *shardedMap[int], owner string, delta int) {
	for n := parent(owner); n != "."; n = parent(n) {
		cur, _ := ents.get(n)
		if c := cur + delta; c > 0 {
			ents.set(n, c)
		} else {
			ents.del(n)
		}
	}
}

// newTXTSet prepares the answer data for entries: distinct values (an
// RRset has no duplicates), each split into character-strings of at most
// 255 bytes.
func newTXTSet(entries []txtEntry) *txtSet {
	set := &txtSet{}
	for _, e := range entries {
		if slices.Contains(set.values, e.value) {
			continue
		}
		set.values = append(set.values, e.value)
		set.wire = append(set.wire, txtStrings(e.value))
	}
	return set
}

// txtStrings splits v into character-strings of at most 255 bytes and
// escapes each for miekg/dns, which reads a backslash as an escape when it
// packs a TXT string.
func txtStrings(v string) []string {
	if v == "" {
		return []string{""}
	}
	var out []string
	for len(v) > 0 {
		n := min(len(v), 255)
		out = append(out, strings.ReplaceAll(v[:n], `\`, `\\`))
		v = v[n:]
	}
	return out
}
