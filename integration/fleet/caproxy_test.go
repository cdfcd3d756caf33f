package fleet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certfleet/certfleet/integration/pebble"
)

func startProxy(t *testing.T) (*CAProxy, *http.Client) {
	t.Helper()
	// The VA is never asked anything here.
	ca := pebble.StartTB(t, pebble.Options{DNSServer: "127.0.0.1:1"})
	p, err := StartCAProxy(ca.DirectoryURL(), ca.TLSRootPEM(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.RootPEM())
	// No keep-alive: every request dials, so Down is seen at once.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
	return p, client
}

func post(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Post(url, "application/jose+json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestCAProxyDirectoryPointsAtProxy(t *testing.T) {
	p, c := startProxy(t)
	resp, err := c.Get(p.DirectoryURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var dir map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&dir); err != nil {
		t.Fatal(err)
	}
	self := strings.TrimSuffix(p.DirectoryURL(), "/dir")
	for _, k := range []string{"newNonce", "newAccount", "newOrder", "renewalInfo"} {
		u, _ := dir[k].(string)
		if !strings.HasPrefix(u, self+"/") {
			t.Errorf("directory %s = %q, want it under the proxy %s", k, u, self)
		}
	}
	if h := p.Hits(KindDirectory); len(h) != 1 || h[0].Status != http.StatusOK || h[0].Injected {
		t.Errorf("directory hits %+v", h)
	}
}

func TestCAProxyFaults(t *testing.T) {
	p, c := startProxy(t)
	newOrder := strings.TrimSuffix(p.DirectoryURL(), "/dir") + "/order-plz"
	tests := []struct {
		name       string
		status, n  int
		retryAfter time.Duration
		want       []int // statuses of successive new orders
		wantRetry  string
		wantType   string
	}{
		{name: "500 twice", status: 500, n: 2, want: []int{500, 500, 400}, wantType: "serverInternal"},
		{name: "429 once", status: 429, n: 1, retryAfter: 1500 * time.Millisecond, want: []int{429, 400}, wantRetry: "2", wantType: "rateLimited"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p.FailNewOrders(tc.status, tc.n, tc.retryAfter)
			for i, want := range tc.want {
				resp, body := post(t, c, newOrder)
				if resp.StatusCode != want {
					t.Fatalf("new order %d: %d, want %d: %s", i, resp.StatusCode, want, body)
				}
				if want != tc.status {
					// Pebble itself answered (the JWS is garbage).
					continue
				}
				if !strings.Contains(body, "urn:ietf:params:acme:error:"+tc.wantType) {
					t.Errorf("body %s, want type %s", body, tc.wantType)
				}
				if got := resp.Header.Get("Retry-After"); got != tc.wantRetry {
					t.Errorf("Retry-After %q, want %q", got, tc.wantRetry)
				}
			}
		})
	}
	injected := 0
	for _, h := range p.Hits(KindNewOrder) {
		if h.Injected {
			injected++
		}
	}
	if injected != 3 {
		t.Errorf("%d injected, want 3", injected)
	}
}

func TestCAProxyDownUp(t *testing.T) {
	p, c := startProxy(t)
	p.Down()
	_, err := c.Get(p.DirectoryURL())
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("while down: %v, want connection refused", err)
	}
	if err := p.Up(); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get(p.DirectoryURL())
	if err != nil {
		t.Fatalf("after up: %v", err)
	}
	resp.Body.Close()
}

func TestCAProxyHoldFinalize(t *testing.T) {
	// A stand-in CA: finalize "ok" is accepted, anything else refused.
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/ok") {
			_, _ = io.WriteString(w, `{"status":"processing"}`)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
	}))
	t.Cleanup(up.Close)
	root := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw})
	p, err := StartCAProxy(up.URL+"/dir", root, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.RootPEM())
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := strings.TrimSuffix(p.DirectoryURL(), "/dir")

	p.HoldFinalize(true)
	// A refused finalize is never held: the client retries it.
	if resp, _ := post(t, c, base+"/finalize-order/refused"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("refused finalize: %d", resp.StatusCode)
	}
	done := make(chan int, 1)
	go func() {
		resp, err := c.Post(base+"/finalize-order/ok", "application/jose+json", strings.NewReader("{}"))
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	if err := Await(context.Background(), 10*time.Second, func() (bool, error) { return p.Held() == 1, nil }); err != nil {
		t.Fatalf("accepted finalize response not held: %v", err)
	}
	select {
	case s := <-done:
		t.Fatalf("held response delivered: %d", s)
	default:
	}
	p.HoldFinalize(false)
	if s := <-done; s != http.StatusOK {
		t.Fatalf("released response: %d, want 200", s)
	}
	if p.Held() != 0 {
		t.Fatalf("held %d after release", p.Held())
	}
}
