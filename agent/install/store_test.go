package install

import (
	"context"
	"crypto"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/certfleet/certfleet/agent/certstore"
	"github.com/certfleet/certfleet/agent/certstore/certstoretest"
)

func TestInstallPFX(t *testing.T) {
	f := newFixture(t, "0")
	f.target.PFX = filepath.Join(f.dir, "web.pfx")
	f.target.PFXPassword = "pfx-secret"
	if err := Install(context.Background(), f.target, f.v, f.key, nil); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(f.target.PFX)
	if err != nil {
		t.Fatal(err)
	}
	key, leaf, cas, err := pkcs12.DecodeChain(data, "pfx-secret")
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.Equal(f.v.Leaf) || len(cas) != len(f.v.Intermediates) {
		t.Error("pfx does not hold the installed leaf and chain")
	}
	if k, ok := key.(crypto.Signer); !ok || !f.v.Leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
		t.Error("pfx does not hold the leaf's key")
	}
	if fi, _ := os.Stat(f.target.PFX); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("pfx mode %v, want the key's 0600", fi.Mode().Perm())
	}
}

func TestInstallWindowsStore(t *testing.T) {
	f := newFixture(t, "")
	thumbLog := filepath.Join(f.dir, "thumb")
	store := &certstoretest.Memory{}
	f.target.Store = store
	f.target.StorePrefix = "certfleet web"
	f.target.StoreOptions = certstore.AddOptions{Store: certstore.StoreMy}
	f.target.Reload = Reload{Argv: []string{os.Args[0], "thumb-helper", thumbLog}}
	old := certstore.Thumbprint(f.v.Leaf)
	if err := Install(context.Background(), f.target, f.v, f.key, nil); err != nil {
		t.Fatal(err)
	}
	// A renewal: the new certificate is bound (the reload learns its
	// thumbprint), then the old one leaves the store.
	key2, v2 := issued(t)
	if err := Install(context.Background(), f.target, v2, key2, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(thumbLog)
	if want := old + "\n" + certstore.Thumbprint(v2.Leaf) + "\n"; string(got) != want {
		t.Errorf("reload saw thumbprints %q, want %q", got, want)
	}
	entries := store.Entries(certstore.StoreMy)
	if len(entries) != 1 || entries[0].Thumbprint != certstore.Thumbprint(v2.Leaf) || entries[0].Exportable ||
		!strings.HasPrefix(entries[0].FriendlyName, "certfleet web ") {
		t.Errorf("store after renewal: %+v", entries)
	}

	// A renewal whose reload fails: the new certificate leaves the store
	// again, the files are put back.
	before := f.files(t)
	f.target.Reload = Reload{Argv: []string{os.Args[0], "reload-helper", f.log, "1"}}
	key3, v3 := issued(t)
	err := Install(context.Background(), f.target, v3, key3, nil)
	if err == nil || !strings.Contains(err.Error(), "reload failed") {
		t.Fatalf("install with failing reload: %v", err)
	}
	if th := thumbs(store.Entries(certstore.StoreMy)); !slices.Equal(th, []string{certstore.Thumbprint(v2.Leaf)}) {
		t.Errorf("store after a failed reload holds %v, want only the previous certificate", th)
	}
	if now := f.files(t); !maps.Equal(now, before) {
		t.Error("files not restored after a failed reload")
	}

	// The store refuses the certificate: files restored, nothing bound.
	store.AddErr = os.ErrPermission
	key4, v4 := issued(t)
	if err := Install(context.Background(), f.target, v4, key4, nil); err == nil || !strings.Contains(err.Error(), "certificate store") {
		t.Fatalf("install into a refusing store: %v", err)
	}
	if now := f.files(t); !maps.Equal(now, before) {
		t.Error("files not restored after the store refused")
	}
}

func thumbs(es []certstoretest.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Thumbprint)
	}
	return out
}
