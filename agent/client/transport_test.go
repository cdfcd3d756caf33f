package client

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/certfleet/certfleet/internal/connectproxy/proxytest"
)

// startWSServer starts a server with a plain client port and a plain
// WebSocket port; it returns both URLs.
func startWSServer(tb testing.TB) (natsURL, wsURL string) {
	tb.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		Websocket: server.WebsocketOpts{Host: "127.0.0.1", Port: -1, NoTLS: true}})
	if err != nil {
		tb.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("server not ready")
	}
	tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	ports := s.PortsInfo(5 * time.Second)
	if ports == nil || len(ports.WebSocket) == 0 {
		tb.Fatal("no websocket port")
	}
	return s.ClientURL(), ports.WebSocket[0]
}

// closedPort returns a loopback address nothing listens on.
func closedPort(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func startConnectProxy(tb testing.TB, user, pass string) *proxytest.Proxy {
	return proxytest.Start(tb, "127.0.0.1:0", user, pass)
}

// connectOpts connects with opts and waits for OnConnect.
func connectOpts(tb testing.TB, opts Options) *Client {
	tb.Helper()
	connected := make(chan struct{}, 4)
	opts.AgentID = id
	opts.OnConnect = func() { connected <- struct{}{} }
	c, err := Connect(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	select {
	case <-connected:
	case <-time.After(20 * time.Second):
		tb.Fatal("OnConnect not called")
	}
	return c
}

func TestFallbackToWebsocket(t *testing.T) {
	_, ws := startWSServer(t)
	c := connectOpts(t, Options{URLs: []string{"nats://" + closedPort(t), ws}})
	if got := c.Transport(); got != ws {
		t.Fatalf("Transport = %q, want %q", got, ws)
	}
}

func TestPreferredURLFirst(t *testing.T) {
	nu, ws := startWSServer(t)
	c := connectOpts(t, Options{URLs: []string{nu, ws}})
	if got := c.Transport(); got != nu {
		t.Fatalf("Transport = %q, want the first URL %q", got, nu)
	}
}

func TestProxy(t *testing.T) {
	nu, ws := startWSServer(t)
	for _, tc := range []struct{ name, url string }{{"nats", nu}, {"websocket", ws}} {
		t.Run(tc.name, func(t *testing.T) {
			p := startConnectProxy(t, "fleet", "s3cret")
			c := connectOpts(t, Options{URLs: []string{tc.url}, ProxyURL: "http://fleet:s3cret@" + p.Addr})
			want := tc.url + " via proxy http://fleet:xxxxx@" + p.Addr
			if got := c.Transport(); got != want {
				t.Fatalf("Transport = %q, want %q", got, want)
			}
			host := strings.TrimPrefix(strings.TrimPrefix(tc.url, "nats://"), "ws://")
			if got := p.Targets(); len(got) != 1 || got[0] != host {
				t.Fatalf("proxy tunnelled %v, want [%s]", got, host)
			}
		})
	}
}

func TestProxyFromEnvironment(t *testing.T) {
	nu, _ := startWSServer(t)
	p := startConnectProxy(t, "", "")
	// The standard rules never proxy loopback targets: a hub on
	// loopback is dialled directly; another host goes via HTTPS_PROXY.
	t.Setenv("HTTP_PROXY", "http://"+p.Addr)
	t.Setenv("NO_PROXY", "")
	d, err := newDialer("", false)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := d.Dial("tcp", strings.TrimPrefix(nu, "nats://"))
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if d.via() != "" || len(p.Targets()) != 0 {
		t.Fatalf("loopback hub went through the proxy (via %q, tunnelled %v)", d.via(), p.Targets())
	}
	t.Setenv("HTTPS_PROXY", "http://"+p.Addr)
	d, err = newDialer("", true)
	if err != nil {
		t.Fatal(err)
	}
	conn, err = d.Dial("tcp", "hub.example.invalid:4222")
	if err == nil {
		conn.Close()
	}
	if d.via() != "http://"+p.Addr {
		t.Fatalf("via = %q, want the HTTPS_PROXY %s", d.via(), p.Addr)
	}
}

func TestProxyRefuses(t *testing.T) {
	nu, _ := startWSServer(t)
	p := startConnectProxy(t, "fleet", "s3cret")
	d, err := newDialer("http://fleet:wrong@"+p.Addr, false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Dial("tcp", strings.TrimPrefix(nu, "nats://"))
	if err == nil || !strings.Contains(err.Error(), "407") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("Dial = %v, want a 407 refusal that hides the password", err)
	}
}

func TestParseProxyURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://proxy:3128", "http://proxy:3128"},
		{"http://u:p@proxy:8080", "http://u:xxxxx@proxy:8080"},
		{"http://proxy", "http://proxy:3128"},
		{"https://proxy:443", ""},
		{"socks5://proxy:1080", ""},
		{"proxy:3128", ""},
		{"http://proxy:3128/path", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			u, err := ParseProxyURL(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("ParseProxyURL(%q) accepted", tc.in)
				}
				return
			}
			if err != nil || redactURL(u) != tc.want {
				t.Fatalf("ParseProxyURL(%q) = %v, %v; want %s", tc.in, u, err, tc.want)
			}
		})
	}
}

func TestGroupURLs(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want string // groups separated by |
	}{
		{"one", []string{"tls://a:4222"}, "tls://a:4222"},
		{"tls then wss", []string{"tls://a:4222", "wss://a:443"}, "tls://a:4222|wss://a:443"},
		{"runs kept in order", []string{"tls://a:1", "tls://b:1", "wss://a:443", "tls://r:1"}, "tls://a:1,tls://b:1|wss://a:443|tls://r:1"},
		{"bad scheme", []string{"https://a"}, ""},
		{"no host", []string{"tls://"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := groupURLs(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("groupURLs(%v) accepted", tc.in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, x := range g {
				parts = append(parts, strings.Join(x.urls, ","))
			}
			if got := strings.Join(parts, "|"); got != tc.want {
				t.Fatalf("groups = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestCloseDuringDial: Close does not wait out a dial to a server that
// accepted and says nothing (the dial timeout is 10 s).
func TestCloseDuringDial(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			accepted <- c
		}
	}()
	c, err := Connect(Options{AgentID: id, URLs: []string{"nats://" + l.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	var conn net.Conn
	select {
	case conn = <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("client never dialled")
	}
	defer conn.Close()
	began := time.Now()
	c.Close()
	if d := time.Since(began); d > closeWait+time.Second {
		t.Fatalf("Close took %s during a dial", d)
	}
	if c.Connected() {
		t.Fatal("connected after Close")
	}
}
