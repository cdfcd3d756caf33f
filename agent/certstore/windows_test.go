//go:build windows

package certstore_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/windows/registry"

	"github.com/certfleet/certfleet/agent/certstore"
)

// underWine: wine's crypt32 imports RSA keys from a PFX but not ECDSA
// ones (field notes); real Windows runners test both.
func underWine() bool {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `Software\Wine`, registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	k.Close()
	return true
}

// TestSystemStoreReplace installs, replaces and removes certificates in
// the real LocalMachine store (needs an administrator, as the agent
// service is).
func TestSystemStoreReplace(t *testing.T) {
	for _, tc := range []struct {
		name string
		rsa  bool
	}{{"rsa", true}, {"ecdsa", false}} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.rsa && underWine() {
				t.Skip("wine cannot import ECDSA keys from a PFX")
			}
			s, err := certstore.Open()
			if err != nil {
				t.Fatal(err)
			}
			prefix := fmt.Sprintf("certfleet-test %s %d", tc.name, time.Now().UnixNano())
			opts := certstore.AddOptions{Store: certstore.StoreMy}
			t.Cleanup(func() {
				left, _ := s.List(certstore.StoreMy, prefix)
				for _, c := range left {
					s.Remove(certstore.StoreMy, c.Thumbprint)
				}
			})
			old := testBundle(t, "www.example.org", tc.rsa, 30)
			first, err := certstore.Install(s, old, prefix, opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.List(certstore.StoreMy, prefix)
			if err != nil || len(got) != 1 || got[0].Thumbprint != first.Thumbprint || got[0].FriendlyName != certstore.FriendlyName(prefix, old.Leaf) {
				t.Fatalf("after first install: %+v %v", got, err)
			}
			fresh := testBundle(t, "www.example.org", tc.rsa, 60)
			var atBind []certstore.Cert
			res, err := certstore.Install(s, fresh, prefix, opts, func(string) error {
				atBind, err = s.List(certstore.StoreMy, prefix)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(atBind) != 2 || !slices.Equal(res.Removed, []string{first.Thumbprint}) {
				t.Errorf("at bind %+v, removed %v", atBind, res.Removed)
			}
			got, _ = s.List(certstore.StoreMy, prefix)
			if len(got) != 1 || got[0].Thumbprint != certstore.Thumbprint(fresh.Leaf) {
				t.Errorf("after replace: %+v", got)
			}
			if err := s.Remove(certstore.StoreMy, res.Thumbprint); err != nil {
				t.Fatal(err)
			}
			if err := s.Remove(certstore.StoreMy, res.Thumbprint); err != nil {
				t.Errorf("removing a missing certificate: %v", err)
			}
			if got, _ := s.List(certstore.StoreMy, prefix); len(got) != 0 {
				t.Errorf("after remove: %+v", got)
			}
		})
	}
}
