package acmedns

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/certfleet/certfleet/hub"
)

// A registration with a known key, so fuzz inputs can authenticate.
const (
	fuzzUser = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	fuzzKey  = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_01"
	fuzzSub  = "fuzzsub"
)

// FuzzHandler sends arbitrary requests through the whole handler over a
// real store: no panic, no 500, error bodies always acme-dns's JSON, and a
// 200 /update only for the right credentials and a valid TXT value,
// which is then stored.
func FuzzHandler(f *testing.F) {
	good := `{"subdomain":"` + fuzzSub + `","txt":"` + strings.Repeat("A", 43) + `"}`
	seeds := []struct{ method, path, user, key, xff, body string }{
		{"POST", "/register", "", "", "", ""},
		{"POST", "/register", "", "", "", `{"allowfrom":["127.0.0.1/32","[::1]/128"]}`},
		{"POST", "/register", "", "", "", `{"allowfrom":["300.0.0.0/8"]}`},
		{"POST", "/register", "", "", "", `{"allowfrom":`},
		{"POST", "/update", fuzzUser, fuzzKey, "", good},
		{"POST", "/update", fuzzUser, fuzzKey, "127.0.0.2", good},
		{"POST", "/update", fuzzUser, fuzzKey, "", `{"subdomain":"fuzzsub","txt":"short"}`},
		{"POST", "/update", fuzzUser, strings.Repeat("x", 40), "", good},
		{"POST", "/update", "urn:uuid:" + fuzzUser, fuzzKey, "", good},
		{"DELETE", "/register", fuzzUser, fuzzKey, "", `{"subdomain":"other"}`},
		{"GET", "/health", "", "", "", ""},
		{"OPTIONS", "/update", "", "", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.user, s.key, s.xff, []byte(s.body))
	}
	st := openStore(f)
	hash, err := bcrypt.GenerateFromPassword([]byte(fuzzKey), BcryptCost)
	if err != nil {
		f.Fatal(err)
	}
	if err := st.CreateACMEDNS(context.Background(), hub.ACMEDNSRegistration{Username: fuzzUser, PasswordHash: string(hash), Subdomain: fuzzSub, Created: time.Now()}); err != nil {
		f.Fatal(err)
	}
	api, err := New(Config{Zone: testZone, Rate: -1, MaxBody: 1024, TrustedProxies: mustPrefixes(f, "127.0.0.1/32"), CORSOrigins: []string{"*"}}, st)
	if err != nil {
		f.Fatal(err)
	}
	h := api.Handler()
	// 301/307: ServeMux cleaning a path such as "0" or "/a/../update".
	allowed := map[int]bool{200: true, 301: true, 307: true, 308: true, 201: true, 204: true, 400: true, 401: true, 403: true, 404: true, 405: true, 413: true}
	f.Fuzz(func(t *testing.T, method, path, user, key, xff string, body []byte) {
		if method == "DELETE" && user == fuzzUser {
			// Deleting the shared registration would end every later
			// input's chance to authenticate.
			return
		}
		req, err := http.NewRequest(method, "http://api.test/", bytes.NewReader(body))
		if err != nil {
			return
		}
		req.URL.Path = path
		req.RemoteAddr = "127.0.0.1:40000"
		req.Header.Set("X-Api-User", user)
		req.Header.Set("X-Api-Key", key)
		req.Header.Set("X-Forwarded-For", xff)
		req.Header.Set("Origin", "https://panel.test")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !allowed[rec.Code] {
			t.Fatalf("%s %q: status %d %s", method, path, rec.Code, rec.Body)
		}
		if rec.Header().Get("Content-Type") == "application/json" && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %q: invalid JSON body %q", method, path, rec.Body)
		}
		if rec.Code == 200 && method == "POST" && path == "/update" {
			var u updateRequest
			if json.Unmarshal(body, &u) != nil || !ValidTXT(u.TXT) || key != fuzzKey || u.Subdomain != fuzzSub {
				t.Fatalf("update accepted: user %q key %q body %q", user, key, body)
			}
			r, err := st.GetACMEDNS(context.Background(), fuzzUser)
			if err != nil || r.TXT[len(r.TXT)-1].Value != u.TXT {
				t.Fatalf("accepted update not stored: %v %+v", err, r.TXT)
			}
		}
	})
}
