package issuer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/go-acme/lego/v5/acme"
)

// maxDirectorySize bounds a directory document.
const maxDirectorySize = 1 << 20

// newTransport returns the HTTPS transport for the CA, trusting the system
// roots plus those in bundle (a PEM file path; "" for none).
func newTransport(bundle string) (*http.Transport, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if bundle != "" {
		pem, err := os.ReadFile(bundle)
		if err != nil {
			return nil, fmt.Errorf("read ca_bundle: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("read ca_bundle %s: no PEM certificates in it", bundle)
		}
	}
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   16, // parallel orders reuse connections
		TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}, nil
}

// fetchDirectory GETs the ACME directory.
func fetchDirectory(ctx context.Context, client *http.Client, dirURL string) (acme.Directory, error) {
	var dir acme.Directory
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, dirURL, nil)
	if err != nil {
		return dir, fmt.Errorf("get directory: %w", err)
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		return dir, fmt.Errorf("get directory %s: %w: %w", dirURL, ErrCAUnreachable, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDirectorySize))
	if err != nil {
		return dir, fmt.Errorf("get directory %s: %w: %w", dirURL, ErrCAUnreachable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return dir, fmt.Errorf("get directory %s: %w: HTTP %d", dirURL, ErrCARefused, resp.StatusCode)
	}
	if err := json.Unmarshal(body, &dir); err != nil {
		return dir, fmt.Errorf("get directory %s: not an ACME directory: %w", dirURL, err)
	}
	if dir.NewAccountURL == "" || dir.NewOrderURL == "" || dir.NewNonceURL == "" {
		return dir, fmt.Errorf("get directory %s: not an ACME directory (newAccount, newOrder or newNonce missing)", dirURL)
	}
	return dir, nil
}
