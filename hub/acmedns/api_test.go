package acmedns

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

func TestRegisterAndUpdate(t *testing.T) {
	ta := newTestAPI(t, Config{})
	r := ta.do(nil, "POST", "/register", nil, nil)
	if r.status != http.StatusCreated || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("register: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	// acme-dns's exact wire form: json.Marshal of RegResponse, fields in order.
	wire := regexp.MustCompile(`^\{"username":"[0-9a-f-]{36}","password":"[A-Za-z0-9_-]{40}","fulldomain":"[0-9a-f-]{36}\.acme\.certfleet\.test","subdomain":"[0-9a-f-]{36}","allowfrom":\[\]\}$`)
	if !wire.MatchString(r.body) {
		t.Fatalf("register body not in acme-dns form: %s", r.body)
	}
	reg := ta.register()
	if reg.Fulldomain != reg.Subdomain+"."+testZone {
		t.Fatalf("fulldomain %q", reg.Fulldomain)
	}
	for i := range 3 {
		v := txtValue(byte(i))
		r := ta.do(nil, "POST", "/update", creds(reg), updateBody(reg.Subdomain, v))
		if r.status != http.StatusOK || r.body != `{"txt": "`+v+`"}` {
			t.Fatalf("update %d: %d %s", i, r.status, r.body)
		}
	}
	got, err := ta.store.GetACMEDNS(context.Background(), reg.Username)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.TXT) != 2 || got.TXT[0].Value != txtValue(1) || got.TXT[1].Value != txtValue(2) {
		t.Fatalf("want the two latest values, got %+v", got.TXT)
	}
	if strings.Contains(got.PasswordHash, reg.Password) || !strings.HasPrefix(got.PasswordHash, "$2a$10$") {
		t.Fatalf("stored hash %q: want bcrypt cost 10", got.PasswordHash)
	}
	if r := ta.do(nil, "GET", "/health", nil, nil); r.status != http.StatusOK || r.body != "" {
		t.Fatalf("health: %d %q", r.status, r.body)
	}
}

func TestRegisterAllowFrom(t *testing.T) {
	ta := newTestAPI(t, Config{})
	reg := ta.register("127.0.0.2/32", "[::1]/128")
	if len(reg.Allowfrom) != 2 || reg.Allowfrom[0] != "127.0.0.2/32" || reg.Allowfrom[1] != "::1/128" {
		t.Fatalf("allowfrom %v", reg.Allowfrom)
	}
}

func TestErrors(t *testing.T) {
	ta := newTestAPI(t, Config{MaxBody: 512})
	reg := ta.register()
	other := ta.register()
	good := updateBody(reg.Subdomain, txtValue(0))
	hdr := func(user, key string) map[string]string {
		return map[string]string{"X-Api-User": user, "X-Api-Key": key}
	}
	wrongKey := strings.Repeat("a", 40)
	cases := []struct {
		name, method, path string
		hdr                map[string]string
		body               []byte
		status             int
		want               string
	}{
		{"register malformed json", "POST", "/register", nil, []byte(`{"allowfrom": `), 400, `{"error": "malformed_json_payload"}`},
		{"register allowfrom not a list", "POST", "/register", nil, []byte(`{"allowfrom": "10.0.0.0/8"}`), 400, `{"error": "malformed_json_payload"}`},
		{"register bad cidr", "POST", "/register", nil, []byte(`{"allowfrom": ["300.1.1.1/8"]}`), 400, `{"error": "invalid_allowfrom_cidr"}`},
		{"register oversized", "POST", "/register", nil, []byte(`{"allowfrom": ["` + strings.Repeat("1", 600) + `"]}`), 413, `{"error": "payload_too_large"}`},
		{"update wrong key", "POST", "/update", hdr(reg.Username, wrongKey), good, 401, `{"error": "forbidden"}`},
		{"update short key", "POST", "/update", hdr(reg.Username, "abc"), good, 401, `{"error": "forbidden"}`},
		{"update unknown user", "POST", "/update", hdr("0b5b4b9c-1c1e-4a57-9f3e-3c1b7a1c2d3e", reg.Password), good, 401, `{"error": "forbidden"}`},
		{"update bad user", "POST", "/update", hdr("not-a-uuid", reg.Password), good, 401, `{"error": "forbidden"}`},
		{"update no headers", "POST", "/update", nil, good, 401, `{"error": "forbidden"}`},
		{"update other's subdomain", "POST", "/update", creds(reg), updateBody(other.Subdomain, txtValue(0)), 401, `{"error": "forbidden"}`},
		{"update other's key", "POST", "/update", hdr(reg.Username, other.Password), good, 401, `{"error": "forbidden"}`},
		{"update malformed body", "POST", "/update", creds(reg), []byte(`{"subdomain":`), 401, `{"error": "forbidden"}`},
		{"update short txt", "POST", "/update", creds(reg), updateBody(reg.Subdomain, "abc"), 400, `{"error": "bad_txt"}`},
		{"update txt bad chars", "POST", "/update", creds(reg), updateBody(reg.Subdomain, strings.Repeat("+", 43)), 400, `{"error": "bad_txt"}`},
		{"update oversized", "POST", "/update", creds(reg), []byte(strings.Repeat(" ", 600)), 413, `{"error": "payload_too_large"}`},
		{"get update", "GET", "/update", nil, nil, 405, "Method Not Allowed\n"},
		{"unknown path", "GET", "/nope", nil, nil, 404, "404 page not found\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ta.do(nil, c.method, c.path, c.hdr, c.body)
			if r.status != c.status || r.body != c.want {
				t.Fatalf("got %d %q, want %d %q", r.status, r.body, c.status, c.want)
			}
		})
	}
	got, err := ta.store.GetACMEDNS(context.Background(), reg.Username)
	if err != nil || len(got.TXT) != 0 {
		t.Fatalf("refused updates must change nothing: %+v %v", got.TXT, err)
	}
}

func TestAllowFromPeer(t *testing.T) {
	cases := []struct {
		name    string
		trusted []string
		allow   []string
		peer    string
		xff     string
		status  int
	}{
		{"no allowfrom", nil, nil, "127.0.0.1", "", 200},
		{"peer allowed", nil, []string{"127.0.0.1/32"}, "127.0.0.1", "", 200},
		{"peer not allowed", nil, []string{"127.0.0.2/32"}, "127.0.0.1", "", 401},
		{"second peer allowed", nil, []string{"127.0.0.2/32"}, "127.0.0.2", "", 200},
		{"spoofed xff from untrusted peer", nil, []string{"127.0.0.2/32"}, "127.0.0.1", "127.0.0.2", 401},
		{"spoofed xff from peer outside trusted_proxies", []string{"127.0.0.3/32"}, []string{"127.0.0.2/32"}, "127.0.0.1", "127.0.0.2", 401},
		{"xff from trusted proxy", []string{"127.0.0.1/32"}, []string{"127.0.0.2/32"}, "127.0.0.1", "127.0.0.2", 200},
		{"trusted proxy, client not allowed", []string{"127.0.0.1/32"}, []string{"127.0.0.2/32"}, "127.0.0.1", "127.0.0.9", 401},
		{"chain: rightmost untrusted hop counts", []string{"127.0.0.1/32"}, []string{"127.0.0.2/32"}, "127.0.0.1", "127.0.0.9, 127.0.0.2", 200},
		{"chain: spoofed leftmost entry ignored", []string{"127.0.0.1/32"}, []string{"127.0.0.2/32"}, "127.0.0.1", "127.0.0.2, 127.0.0.9", 401},
		{"chain through two trusted proxies", []string{"127.0.0.1/32", "127.0.0.5/32"}, []string{"127.0.0.2/32"}, "127.0.0.1", "127.0.0.2, 127.0.0.5", 200},
		{"garbled xff from trusted proxy", []string{"127.0.0.1/32"}, []string{"127.0.0.1/32"}, "127.0.0.1", "bogus", 401},
		{"trusted proxy without xff is the client", []string{"127.0.0.1/32"}, []string{"127.0.0.1/32"}, "127.0.0.1", "", 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ta := newTestAPI(t, Config{TrustedProxies: mustPrefixes(t, c.trusted...)})
			reg := ta.register(c.allow...)
			h := creds(reg)
			if c.xff != "" {
				h["X-Forwarded-For"] = c.xff
			}
			r := ta.do(ta.client(c.peer), "POST", "/update", h, updateBody(reg.Subdomain, txtValue(1)))
			if r.status != c.status {
				t.Fatalf("got %d %s, want %d", r.status, r.body, c.status)
			}
		})
	}
}

func TestDisableRegistration(t *testing.T) {
	ta := newTestAPI(t, Config{DisableRegistration: true})
	r := ta.do(nil, "POST", "/register", nil, nil)
	if r.status != http.StatusForbidden || r.body != `{"error": "registration_disabled"}` {
		t.Fatalf("got %d %s", r.status, r.body)
	}
}

func TestUnregister(t *testing.T) {
	ta := newTestAPI(t, Config{})
	reg := ta.register()
	other := ta.register()
	body := []byte(`{"subdomain":"` + reg.Subdomain + `"}`)
	if r := ta.do(nil, "DELETE", "/register", creds(other), body); r.status != 401 {
		t.Fatalf("delete with another's key: %d %s", r.status, r.body)
	}
	if r := ta.do(nil, "DELETE", "/register", creds(reg), nil); r.status != 401 {
		t.Fatalf("delete without naming the subdomain: %d %s", r.status, r.body)
	}
	if r := ta.do(nil, "DELETE", "/register", creds(reg), body); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := ta.do(nil, "POST", "/update", creds(reg), updateBody(reg.Subdomain, txtValue(0))); r.status != 401 {
		t.Fatalf("update after delete: %d %s", r.status, r.body)
	}
	if r := ta.do(nil, "POST", "/update", creds(other), updateBody(other.Subdomain, txtValue(0))); r.status != 200 {
		t.Fatalf("the other registration must survive: %d %s", r.status, r.body)
	}
}

func TestRateLimit(t *testing.T) {
	ta := newTestAPI(t, Config{Rate: 0.001, Burst: 3})
	for i := range 3 {
		if r := ta.do(nil, "POST", "/update", nil, nil); r.status != 401 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	r := ta.do(nil, "POST", "/register", nil, nil)
	if r.status != http.StatusTooManyRequests || r.body != `{"error": "rate_limited"}` || r.header.Get("Retry-After") == "" {
		t.Fatalf("flood: %d %s", r.status, r.body)
	}
	// Another client address has its own bucket; health is never limited.
	if r := ta.do(ta.client("127.0.0.2"), "POST", "/register", nil, nil); r.status != http.StatusCreated {
		t.Fatalf("other client: %d %s", r.status, r.body)
	}
	if r := ta.do(nil, "GET", "/health", nil, nil); r.status != 200 {
		t.Fatalf("health: %d", r.status)
	}
}

func TestCORS(t *testing.T) {
	ta := newTestAPI(t, Config{CORSOrigins: []string{"https://panel.example.test"}})
	pre := map[string]string{"Origin": "https://panel.example.test", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-api-user, x-api-key"}
	r := ta.do(nil, "OPTIONS", "/update", pre, nil)
	if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "https://panel.example.test" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "X-Api-User") || !strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "X-Api-Key") {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
	pre["Origin"] = "https://evil.example.test"
	if r := ta.do(nil, "OPTIONS", "/update", pre, nil); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin allowed: %v", r.header)
	}
	off := newTestAPI(t, Config{})
	if r := off.do(nil, "OPTIONS", "/update", map[string]string{"Origin": "https://panel.example.test", "Access-Control-Request-Method": "POST"}, nil); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("cors off but allowed: %v", r.header)
	}
}

func TestVisibleWait(t *testing.T) {
	var calls atomic.Int32
	ta := newTestAPI(t, Config{Visible: func(fqdn, v string) bool { return calls.Add(1) > 2 }})
	reg := ta.register()
	if r := ta.do(nil, "POST", "/update", creds(reg), updateBody(reg.Subdomain, txtValue(0))); r.status != 200 {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("update returned before the value was served: %d checks", n)
	}
}
