package issuer

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// lego's ACME calls return the decoded resource but not the HTTP response,
// and polling needs two things from it: the status (Pebble answers an
// unknown order with a bare 404, no problem document) and Retry-After. The
// CA's transport is wrapped to record them for one request URL into an
// exchange carried by the call's context; lego builds every request with
// the context it is given.

type exchangeKey struct{}

// exchange is what the CA answered to the last request for url made with
// a context from withExchange.
type exchange struct {
	url string

	mu         sync.Mutex
	status     int
	retryAfter time.Duration
}

// withExchange returns a context under which responses to rawURL are
// recorded in the returned exchange.
func withExchange(ctx context.Context, rawURL string) (context.Context, *exchange) {
	x := &exchange{url: rawURL}
	if u, err := url.Parse(rawURL); err == nil {
		x.url = u.String() // as the request will spell it
	}
	return context.WithValue(ctx, exchangeKey{}, x), x
}

// result returns the HTTP status (0 if no response came) and the
// Retry-After delay (0 if none).
func (x *exchange) result() (status int, retryAfter time.Duration) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.status, x.retryAfter
}

func (x *exchange) record(resp *http.Response) {
	ra, _ := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	x.mu.Lock()
	x.status, x.retryAfter = resp.StatusCode, ra
	x.mu.Unlock()
}

// observingTransport records responses into the request context's exchange.
type observingTransport struct {
	rt http.RoundTripper
}

func (t observingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if resp != nil {
		// Only the request the exchange is for: lego may fetch a nonce
		// with the same context first.
		if x, ok := req.Context().Value(exchangeKey{}).(*exchange); ok && req.URL.String() == x.url {
			x.record(resp)
		}
	}
	return resp, err
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date
// (RFC 9110 section 10.2.3). A date in the past is a zero delay.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
