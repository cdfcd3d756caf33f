package acmedns

import (
	"bytes"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// benchSetup registers n clients on a loopback API over a real store.
func benchSetup(b *testing.B, n int) (*testAPI, []registered, *http.Client) {
	b.Helper()
	ta := newTestAPI(b, Config{})
	regs := make([]registered, n)
	for i := range regs {
		regs[i] = ta.register()
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	return ta, regs, c
}

func benchUpdate(b *testing.B, ta *testAPI, c *http.Client, reg registered, v string) {
	req, _ := http.NewRequest("POST", ta.srv.URL+"/update", bytes.NewReader(updateBody(reg.Subdomain, v)))
	req.Header.Set("X-Api-User", reg.Username)
	req.Header.Set("X-Api-Key", reg.Password)
	res, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b.Fatalf("update: %d", res.StatusCode)
	}
}

// BenchmarkUpdate is the latency of one POST /update (HTTP on loopback,
// credential check, revision-checked JetStream KV write), one client
// after another. The client's key was verified before (bcrypt is paid
// once per client and key; see BenchmarkUpdateFirst).
func BenchmarkUpdate(b *testing.B) {
	ta, regs, c := benchSetup(b, 1)
	benchUpdate(b, ta, c, regs[0], txtValue(0))
	for i := 0; b.Loop(); i++ {
		benchUpdate(b, ta, c, regs[0], txtValue(byte(i)))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

// BenchmarkUpdateParallel is the throughput of /update with 64 clients
// updating concurrently (GOMAXPROCS×RunParallel goroutines).
func BenchmarkUpdateParallel(b *testing.B) {
	ta, regs, c := benchSetup(b, 64)
	for _, r := range regs {
		benchUpdate(b, ta, c, r, txtValue(0))
	}
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		reg := regs[int(next.Add(1))%len(regs)]
		for i := 0; pb.Next(); i++ {
			benchUpdate(b, ta, c, reg, txtValue(byte(i)))
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

// BenchmarkUpdateFirst is an /update whose key is checked with bcrypt
// (cost 10, as acme-dns): a client's first update, or every update on
// acme-dns itself.
func BenchmarkUpdateFirst(b *testing.B) {
	ta, regs, c := benchSetup(b, 1)
	for i := 0; b.Loop(); i++ {
		ta.api.auth.forget(regs[0].Username)
		benchUpdate(b, ta, c, regs[0], txtValue(byte(i)))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}
