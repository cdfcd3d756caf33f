package certstore_test

import (
	"crypto"
	"errors"
	"slices"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/certfleet/certfleet/agent/certstore"
	"github.com/certfleet/certfleet/agent/certstore/certstoretest"
)

func thumbs(cs []certstore.Cert) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Thumbprint)
	}
	return out
}

func TestInstallReplaces(t *testing.T) {
	s := &certstoretest.Memory{}
	opts := certstore.AddOptions{Store: certstore.StoreMy}
	old := testBundle(t, "www.example.org", false, 30)
	other := testBundle(t, "mail.example.org", false, 30)
	if _, err := certstore.Install(s, other, "certfleet mail", opts, nil); err != nil {
		t.Fatal(err)
	}
	first, err := certstore.Install(s, old, "certfleet web", opts, nil)
	if err != nil || len(first.Removed) != 0 {
		t.Fatalf("first install: %+v %v", first, err)
	}
	fresh := testBundle(t, "www.example.org", false, 60)
	var boundTo string
	var listedAtBind []string
	res, err := certstore.Install(s, fresh, "certfleet web", opts, func(th string) error {
		boundTo = th
		listedAtBind = thumbs(must(s.List(certstore.StoreMy, "certfleet web")))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if boundTo != certstore.Thumbprint(fresh.Leaf) || res.Thumbprint != boundTo {
		t.Errorf("bound %s, installed %s, want %s", boundTo, res.Thumbprint, certstore.Thumbprint(fresh.Leaf))
	}
	// While binding, old and new are both there: the service never
	// points at a missing certificate.
	if len(listedAtBind) != 2 {
		t.Errorf("at bind time the store held %v, want old and new", listedAtBind)
	}
	if !slices.Equal(res.Removed, []string{certstore.Thumbprint(old.Leaf)}) {
		t.Errorf("removed %v, want the replaced one", res.Removed)
	}
	web := must(s.List(certstore.StoreMy, "certfleet web"))
	if len(web) != 1 || web[0].Thumbprint != res.Thumbprint || web[0].FriendlyName != certstore.FriendlyName("certfleet web", fresh.Leaf) {
		t.Errorf("store after replace: %+v", web)
	}
	if got := must(s.List(certstore.StoreMy, "certfleet mail")); len(got) != 1 {
		t.Errorf("another block's certificate was touched: %+v", got)
	}
	if s.Entries(certstore.StoreMy)[len(s.Entries(certstore.StoreMy))-1].Exportable {
		t.Error("key exportable by default")
	}
}

func TestInstallBindFailureKeepsOld(t *testing.T) {
	s := &certstoretest.Memory{}
	opts := certstore.AddOptions{Store: certstore.StoreWebHosting}
	old := testBundle(t, "www.example.org", true, 30)
	if _, err := certstore.Install(s, old, "certfleet web", opts, nil); err != nil {
		t.Fatal(err)
	}
	_, err := certstore.Install(s, testBundle(t, "www.example.org", true, 60), "certfleet web", opts, func(string) error {
		return errors.New("netsh: binding refused")
	})
	if err == nil || !strings.Contains(err.Error(), "binding refused") {
		t.Fatalf("error %v", err)
	}
	if got := thumbs(must(s.List(certstore.StoreWebHosting, "certfleet web"))); !slices.Equal(got, []string{certstore.Thumbprint(old.Leaf)}) {
		t.Errorf("store after a failed bind: %v, want only the old certificate", got)
	}
}

func TestInstallErrors(t *testing.T) {
	b := testBundle(t, "www.example.org", false, 30)
	for _, tc := range []struct {
		name  string
		store *certstoretest.Memory
		b     certstore.Bundle
		want  string
	}{
		{"no key", &certstoretest.Memory{}, certstore.Bundle{Leaf: b.Leaf}, "nothing to install"},
		{"add fails", &certstoretest.Memory{AddErr: errors.New("access denied")}, b, `add to LocalMachine\My: access denied`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := certstore.Install(tc.store, tc.b, "certfleet web", certstore.AddOptions{Store: certstore.StoreMy}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	// A replaced certificate that cannot be removed is reported; the new
	// one stays installed.
	s := &certstoretest.Memory{}
	if _, err := certstore.Install(s, b, "certfleet web", certstore.AddOptions{Store: certstore.StoreMy}, nil); err != nil {
		t.Fatal(err)
	}
	s.RemoveErr = errors.New("in use")
	res, err := certstore.Install(s, testBundle(t, "www.example.org", false, 60), "certfleet web", certstore.AddOptions{Store: certstore.StoreMy}, nil)
	if err == nil || !strings.Contains(err.Error(), "remove replaced") || res.Thumbprint == "" {
		t.Fatalf("result %+v, error %v", res, err)
	}
}

func TestEncodePFX(t *testing.T) {
	for _, rsaKey := range []bool{false, true} {
		b := testBundle(t, "www.example.org", rsaKey, 30)
		data, err := certstore.EncodePFX(b, "s3cret")
		if err != nil {
			t.Fatal(err)
		}
		key, leaf, cas, err := pkcs12.DecodeChain(data, "s3cret")
		if err != nil {
			t.Fatal(err)
		}
		if !leaf.Equal(b.Leaf) || len(cas) != 1 || !cas[0].Equal(b.Chain[0]) {
			t.Error("pfx does not hold the leaf and the intermediate")
		}
		if k, ok := key.(crypto.Signer); !ok || !b.Key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
			t.Error("pfx does not hold the key")
		}
		if _, _, _, err := pkcs12.DecodeChain(data, "wrong"); err == nil {
			t.Error("pfx opens with a wrong password")
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
