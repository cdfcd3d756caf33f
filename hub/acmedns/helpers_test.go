package acmedns

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/internal/natstest"
)

const testZone = "acme.certfleet.test"

// openStore starts an embedded JetStream server and opens the hub's store
// on it.
func openStore(tb testing.TB) *store.Store {
	tb.Helper()
	srv := natstest.JetStream(tb)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	st, err := store.Open(context.Background(), js, store.Options{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	return st
}

// testAPI serves an API over a store on a loopback httptest server.
type testAPI struct {
	tb    testing.TB
	api   *API
	store *store.Store
	srv   *httptest.Server
}

func newTestAPI(tb testing.TB, cfg Config) *testAPI {
	tb.Helper()
	st := openStore(tb)
	cfg.Zone = testZone
	if cfg.Rate == 0 {
		cfg.Rate = -1
	}
	api, err := New(cfg, st)
	if err != nil {
		tb.Fatalf("new api: %v", err)
	}
	srv := httptest.NewServer(api.Handler())
	tb.Cleanup(srv.Close)
	return &testAPI{tb: tb, api: api, store: st, srv: srv}
}

// client returns an HTTP client whose connections come from local (a
// loopback address), so allowfrom sees that peer.
func (ta *testAPI) client(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

type resp struct {
	status int
	body   string
	header http.Header
}

func (ta *testAPI) do(c *http.Client, method, path string, hdr map[string]string, body []byte) resp {
	ta.tb.Helper()
	if c == nil {
		c = ta.client("127.0.0.1")
	}
	req, err := http.NewRequest(method, ta.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		ta.tb.Fatalf("new request: %v", err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		ta.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, string(b), res.Header}
}

type registered struct {
	Username   string   `json:"username"`
	Password   string   `json:"password"`
	Fulldomain string   `json:"fulldomain"`
	Subdomain  string   `json:"subdomain"`
	Allowfrom  []string `json:"allowfrom"`
}

func (ta *testAPI) register(allow ...string) registered {
	ta.tb.Helper()
	body := []byte(nil)
	if allow != nil {
		body, _ = json.Marshal(map[string][]string{"allowfrom": allow})
	}
	r := ta.do(nil, "POST", "/register", nil, body)
	if r.status != http.StatusCreated {
		ta.tb.Fatalf("register: %d %s", r.status, r.body)
	}
	var reg registered
	if err := json.Unmarshal([]byte(r.body), &reg); err != nil {
		ta.tb.Fatalf("register reply %q: %v", r.body, err)
	}
	return reg
}

func creds(reg registered) map[string]string {
	return map[string]string{"X-Api-User": reg.Username, "X-Api-Key": reg.Password}
}

func updateBody(sub, txt string) []byte {
	b, _ := json.Marshal(map[string]string{"subdomain": sub, "txt": txt})
	return b
}

func mustPrefixes(tb testing.TB, s ...string) []netip.Prefix {
	tb.Helper()
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

// txtValue returns a valid 43-character TXT value made from seed.
func txtValue(seed byte) string { return string(bytes.Repeat([]byte{'A' + seed%26}, 42)) + "x" }
