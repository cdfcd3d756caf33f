package issuer

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/certfleet/certfleet/integration/pebble"
)

// BenchmarkObtain measures one issuance (one name, and apex + wildcard)
// against in-process Pebble, with Pebble's behaviour (no Retry-After: the
// issuer polls after 100 ms, doubling) and with Retry-After: 1 on
// challenge responses and processing orders (waited out). Run with e.g.
// -bench Obtain -benchtime 7x; it reports the median too.
func BenchmarkObtain(b *testing.B) {
	for _, ra := range []time.Duration{0, time.Second} {
		for _, names := range [][]string{{"www"}, {"", "*"}} {
			b.Run(fmt.Sprintf("retry-after=%s/names=%d", ra, len(names)), func(b *testing.B) {
				d := startTestDNS(b)
				ca := pebble.StartTB(b, pebble.Options{DNSServer: d.addr, ChallengeRetryAfter: ra, Logger: discard})
				bundle := b.TempDir() + "/tls.pem"
				if err := ca.WriteTLSRoot(bundle); err != nil {
					b.Fatal(err)
				}
				iss, err := New(b.Context(), Config{Name: "pebble", DirectoryURL: ca.DirectoryURL(), CABundle: bundle,
					AccountDir: b.TempDir(), Logger: discard}, &testSolver{dns: d})
				if err != nil {
					b.Fatal(err)
				}
				var took []time.Duration
				b.ResetTimer()
				for n := 0; b.Loop(); n++ {
					var fqdns []string
					for _, label := range names {
						base := fmt.Sprintf("h%d.example.org", n)
						if label != "" {
							base = label + "." + base
						}
						fqdns = append(fqdns, base)
					}
					csr, _ := newCSR(b, fqdns...)
					start := time.Now()
					if _, err := iss.Obtain(b.Context(), Request{CSR: csr}); err != nil {
						b.Fatal(err)
					}
					took = append(took, time.Since(start))
				}
				slices.Sort(took)
				b.ReportMetric(took[len(took)/2].Seconds(), "median-s")
				b.ReportMetric(took[0].Seconds(), "min-s")
				b.ReportMetric(took[len(took)-1].Seconds(), "max-s")
			})
		}
	}
}
