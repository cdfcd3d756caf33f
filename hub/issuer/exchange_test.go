package issuer

import (
	"net/http"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/acme"
)

type retryAfterCase struct {
	name  string
	value string
	want  time.Duration
	ok    bool
}

var retryAfterNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

var retryAfterCases = []retryAfterCase{
	{name: "seconds", value: "2", want: 2 * time.Second, ok: true},
	{name: "zero", value: "0", want: 0, ok: true},
	{name: "spaces", value: " 30 ", want: 30 * time.Second, ok: true},
	{name: "http date", value: "Sun, 29 Nov 2026 12:00:05 GMT", want: 5 * time.Second, ok: true},
	{name: "rfc 850 date", value: "Sunday, 29-Nov-26 12:01:00 GMT", want: time.Minute, ok: true},
	{name: "date in the past", value: "Sun, 29 Nov 2026 11:00:00 GMT", want: 0, ok: true},
	{name: "empty", value: ""},
	{name: "negative", value: "-5"},
	{name: "fraction", value: "1.5"},
	{name: "huge", value: "99999999999999999999"},
	{name: "garbage", value: "soon"},
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range retryAfterCases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseRetryAfter(tc.value, retryAfterNow)
			if got != tc.want || ok != tc.ok {
				t.Errorf("parseRetryAfter(%q) = %s, %v; want %s, %v", tc.value, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, tc := range retryAfterCases {
		f.Add(tc.value)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, retryAfterNow)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("parseRetryAfter(%q) = %s, %v", v, d, ok)
		}
	})
}

func TestExchangeRecordsOnlyItsURL(t *testing.T) {
	t.Parallel()
	ctx, x := withExchange(t.Context(), "https://ca.example/order/1")
	tr := observingTransport{rt: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		h := http.Header{}
		if r.URL.Path == "/order/1" {
			h.Set("Retry-After", "7")
			return &http.Response{StatusCode: http.StatusNotFound, Header: h, Body: http.NoBody}, nil
		}
		h.Set("Retry-After", "99")
		return &http.Response{StatusCode: http.StatusOK, Header: h, Body: http.NoBody}, nil
	})}
	for _, u := range []string{"https://ca.example/order/1", "https://ca.example/nonce"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
		if _, err := tr.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	if status, ra := x.result(); status != http.StatusNotFound || ra != 7*time.Second {
		t.Errorf("exchange = %d, %s; want 404, 7s (the nonce request must not count)", status, ra)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestSameIdentifiers(t *testing.T) {
	t.Parallel()
	dns := func(vs ...string) []acme.Identifier {
		var ids []acme.Identifier
		for _, v := range vs {
			ids = append(ids, acme.Identifier{Type: "dns", Value: v})
		}
		return ids
	}
	tests := []struct {
		name  string
		ids   []acme.Identifier
		names []string
		want  bool
	}{
		{name: "same", ids: dns("a.example", "*.a.example"), names: []string{"a.example", "*.a.example"}, want: true},
		{name: "other order and case", ids: dns("B.example", "a.example"), names: []string{"a.example", "b.example"}, want: true},
		{name: "CN repeated in SANs", ids: dns("a.example"), names: []string{"a.example", "a.example"}, want: true},
		{name: "missing one", ids: dns("a.example"), names: []string{"a.example", "b.example"}},
		{name: "extra one", ids: dns("a.example", "b.example"), names: []string{"a.example"}},
		{name: "other name", ids: dns("c.example"), names: []string{"a.example"}},
		{name: "ip identifier", ids: []acme.Identifier{{Type: "ip", Value: "a.example"}}, names: []string{"a.example"}},
		{name: "none", ids: nil, names: []string{"a.example"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sameIdentifiers(tc.ids, tc.names); got != tc.want {
				t.Errorf("sameIdentifiers = %v, want %v", got, tc.want)
			}
		})
	}
}
