package alarm

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// SignatureHeader carries "sha256=" + hex(HMAC-SHA256(secret, body)).
const SignatureHeader = "X-Certfleet-Signature"

// Webhook posts events as JSON.
type Webhook struct {
	URL    string
	Secret string
	Client *http.Client // default: 10 s timeout
	// Attempts (default 4) and Backoff (default 2 s, doubled each retry)
	// bound the retries of a failed delivery.
	Attempts int
	Backoff  time.Duration
}

// Sign returns the signature header value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's signature under secret, in constant
// time: what a receiver does.
func Verify(secret string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(sig))
}

// permanentError is a refusal that retrying will not change.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Send posts ev, retrying server errors, 408, 429 and network errors.
func (w *Webhook) Send(ctx context.Context, ev Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode alarm: %w", err)
	}
	attempts, wait := w.Attempts, w.Backoff
	if attempts <= 0 {
		attempts = 4
	}
	if wait <= 0 {
		wait = 2 * time.Second
	}
	for i := 1; ; i++ {
		err = w.post(ctx, body)
		var perm permanentError
		if err == nil || errors.As(err, &perm) || i == attempts {
			if err != nil {
				return fmt.Errorf("post alarm to %s (attempt %d of %d): %w", w.URL, i, attempts, err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("post alarm to %s: %w (last: %v)", w.URL, ctx.Err(), err)
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (w *Webhook) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return permanentError{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "certfleet-hub")
	if w.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(w.Secret, body))
	}
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return permanentError{fmt.Errorf("receiver refused: %s", resp.Status)}
}
