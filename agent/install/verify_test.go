package install

import (
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/agent/internal/testca"
	"github.com/certfleet/certfleet/agent/keys"
	"github.com/certfleet/certfleet/internal/keytype"
)

var names = []string{"www.example.org", "example.org"}

func TestVerify(t *testing.T) {
	ca := testca.NewTB(t)
	other := testca.NewTB(t)
	key, _ := keys.Generate(keytype.EC256)
	otherKey, _ := keys.Generate(keytype.EC256)
	now := time.Now()
	issue := func(l testca.Leaf) string {
		if l.Pub == nil {
			l.Pub = key.Public()
		}
		if l.Names == nil {
			l.Names = names
		}
		chain, _, err := ca.Issue(l)
		if err != nil {
			t.Fatal(err)
		}
		return chain
	}
	good := issue(testca.Leaf{})
	leafOnly := good[:strings.Index(good, "-----END CERTIFICATE-----")+len("-----END CERTIFICATE-----\n")]
	otherChain, otherLeaf, _ := other.Issue(testca.Leaf{Pub: key.Public(), Names: names})
	_ = otherChain

	cases := []struct {
		name  string
		chain string
		names []string
		ok    bool
		want  string
	}{
		{"good", good, names, true, ""},
		{"good names reordered and cased", good, []string{"Example.org", "www.example.org."}, true, ""},
		{"leaf only", leafOnly, names, true, ""},
		{"wrong key", issue(testca.Leaf{Pub: otherKey.Public()}), names, false, "public key"},
		{"missing name", issue(testca.Leaf{Names: names[:1]}), names, false, "names"},
		{"extra name", issue(testca.Leaf{Names: append([]string{"evil.example.net"}, names...)}), names, false, "names"},
		{"ip san", issue(testca.Leaf{IPs: []net.IP{net.ParseIP("192.0.2.1")}}), names, false, "IP"},
		{"expired", issue(testca.Leaf{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)}), names, false, "expired"},
		{"not yet valid", issue(testca.Leaf{NotBefore: now.Add(time.Hour), NotAfter: now.Add(48 * time.Hour)}), names, false, "not valid before"},
		{"small skew ok", issue(testca.Leaf{NotBefore: now.Add(time.Minute), NotAfter: now.Add(48 * time.Hour)}), names, true, ""},
		{"ca leaf", issue(testca.Leaf{IsCA: true}), names, false, "CA"},
		{"client auth only", issue(testca.Leaf{EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}), names, false, "server"},
		{"wrong intermediate", string(testca.PEM(otherLeaf)) + string(testca.PEM(ca.Inter)), names, false, "not signed"},
		{"empty", "", names, false, "no certificate"},
		{"garbage", "hello", names, false, "not PEM"},
		{"trailing garbage", good + "junk", names, false, "not PEM"},
		{"key block", good + "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", names, false, "PRIVATE KEY"},
		{"bad der", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", names, false, "certificate 0"},
		{"oversized", strings.Repeat(" ", 200<<10), names, false, "limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Verify(tc.chain, key.Public(), tc.names, now)
			if tc.ok {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if string(v.FullchainPEM) != string(v.CertPEM)+string(v.ChainPEM) || v.Serial() == "" {
					t.Fatal("verified parts inconsistent")
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want ErrVerify mentioning %q", err, tc.want)
			}
		})
	}
}

// FuzzVerify: no input panics, and random chains never pass for a key
// made here.
func FuzzVerify(f *testing.F) {
	ca := testca.NewTB(f)
	k, _ := keys.Generate(keytype.EC256)
	chain, _, _ := ca.Issue(testca.Leaf{Pub: k.Public(), Names: names})
	f.Add(chain)
	f.Add(chain + "x")
	f.Add("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	f.Add("")
	key, _ := keys.Generate(keytype.EC256)
	f.Fuzz(func(t *testing.T, in string) {
		if v, err := Verify(in, key.Public(), names, time.Now()); err == nil {
			t.Fatalf("verified a chain for a key it cannot hold: %x", v.Leaf.SerialNumber)
		}
	})
}
