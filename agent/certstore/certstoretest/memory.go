// Package certstoretest is an in-memory certstore.Store for tests on
// every platform.
package certstoretest

import (
	"slices"
	"sync"

	"github.com/certfleet/certfleet/agent/certstore"
)

// Memory is a certificate store in memory. Set AddErr or RemoveErr to
// make those calls fail.
type Memory struct {
	mu        sync.Mutex
	certs     map[string][]Entry
	AddErr    error
	RemoveErr error
}

// Entry is one certificate held, with the options it was added with.
type Entry struct {
	certstore.Cert
	Exportable bool
	Bundle     certstore.Bundle
}

func (m *Memory) Add(b certstore.Bundle, o certstore.AddOptions) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.AddErr != nil {
		return "", m.AddErr
	}
	if m.certs == nil {
		m.certs = map[string][]Entry{}
	}
	th := certstore.Thumbprint(b.Leaf)
	m.certs[o.Store] = append(slices.DeleteFunc(m.certs[o.Store], func(e Entry) bool { return e.Thumbprint == th }),
		Entry{certstore.Cert{Thumbprint: th, FriendlyName: o.FriendlyName, Subject: b.Leaf.Subject.String(), NotAfter: b.Leaf.NotAfter}, o.Exportable, b})
	return th, nil
}

func (m *Memory) List(store, prefix string) ([]certstore.Cert, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []certstore.Cert
	for _, e := range m.certs[store] {
		if certstore.MatchesPrefix(e.FriendlyName, prefix) {
			out = append(out, e.Cert)
		}
	}
	return out, nil
}

func (m *Memory) Remove(store, th string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.RemoveErr != nil {
		return m.RemoveErr
	}
	m.certs[store] = slices.DeleteFunc(m.certs[store], func(e Entry) bool { return e.Thumbprint == th })
	return nil
}

// Entries returns what store holds, in the order added.
func (m *Memory) Entries(store string) []Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.certs[store])
}
