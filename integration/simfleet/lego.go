package simfleet

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/dns01"
	"github.com/go-acme/lego/v5/lego"
	legolog "github.com/go-acme/lego/v5/log"
	"github.com/go-acme/lego/v5/registration"
	"golang.org/x/sync/errgroup"

	"github.com/certfleet/certfleet/agent/keys"
	"github.com/certfleet/certfleet/hub/dnsserver"
	"github.com/certfleet/certfleet/internal/keytype"
)

// BareConfig configures a bare lego client.
type BareConfig struct {
	// DirectoryURL is the CA's ACME directory; Roots are the PEM roots of
	// its HTTPS certificate.
	DirectoryURL string
	Roots        []byte
	// Zone holds the names to order; its challenges are served by the
	// Bare's own DNS server, which the caller must make the CA reach
	// (delegate Zone to DNSAddr at the CA's resolver).
	Zone string
	// Resolver is the recursive resolver ("host:port") lego asks whether
	// a record is visible before it asks the CA to validate.
	Resolver string
	Logger   *slog.Logger
}

// Bare orders certificates with lego as a user's own ACME client would:
// lego's certificate.ObtainForCSR, one ACME account, its DNS-01 solver
// with a provider that writes into an authoritative DNS server on
// loopback running the hub's own DNS code (hub/dnsserver). It is the
// baseline the hub's issuance is compared with.
type Bare struct {
	dns     *dnsserver.Server
	client  *lego.Client
	prev    *dns01.Client
	prevLog *slog.Logger
}

// NewBare starts the DNS server and registers an ACME account. lego's
// resolver and logger are process-wide: Close restores them.
func NewBare(ctx context.Context, cfg BareConfig) (*Bare, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := dnsserver.New(dnsserver.Config{Listen: "127.0.0.1:0", Domain: cfg.Zone, NSName: "ns1." + cfg.Zone}, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("bare lego dns: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("bare lego dns: %w", err)
	}
	b := &Bare{dns: srv, prev: dns01.DefaultClient(), prevLog: legolog.Default()}
	// lego narrates every step at info, to stdout by default.
	legolog.SetDefault(cfg.Logger.With("component", "lego"))
	dns01.SetDefaultClient(dns01.NewClient(&dns01.Options{RecursiveNameservers: []string{cfg.Resolver}, Timeout: 5 * time.Second}))
	if err := b.register(ctx, cfg); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *Bare) register(ctx context.Context, cfg BareConfig) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("bare lego account key: %w", err)
	}
	u := &legoUser{key: key}
	lc := lego.NewConfig(u)
	lc.CADirURL = cfg.DirectoryURL
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cfg.Roots) {
		return errors.New("bare lego: the CA's roots hold no certificate")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	lc.HTTPClient = &http.Client{Timeout: 2 * time.Minute, Transport: tr}
	b.client, err = lego.NewClient(lc)
	if err != nil {
		return fmt.Errorf("bare lego client: %w", err)
	}
	if u.reg, err = b.client.Registration.Register(ctx, registration.RegisterOptions{TermsOfServiceAgreed: true}); err != nil {
		return fmt.Errorf("bare lego register: %w", err)
	}
	// The only "public" DNS is the loopback resolver; lego's check of the
	// authoritative servers would query port 53.
	if err := b.client.Challenge.SetDNS01Provider(bareProvider{b.dns}, dns01.DisableAuthoritativeNssPropagationRequirement()); err != nil {
		return fmt.Errorf("bare lego dns provider: %w", err)
	}
	return nil
}

// DNSAddr is the TCP address of the Bare's authoritative DNS server.
func (b *Bare) DNSAddr() string { return b.dns.TCPAddr().String() }

// Obtain orders one certificate per name, concurrency at a time, each
// for a fresh P-256 key's CSR made beforehand (as an agent sends one),
// and returns the wall time of the orders and each order's time.
func (b *Bare) Obtain(ctx context.Context, names []string, concurrency int) (time.Duration, []time.Duration, error) {
	csrs := make([]*x509.CertificateRequest, len(names))
	for i, n := range names {
		k, err := keys.Generate(keytype.EC256)
		if err != nil {
			return 0, nil, err
		}
		der, err := keys.CSR(k, []string{n})
		if err != nil {
			return 0, nil, err
		}
		if csrs[i], err = parseCSR(der); err != nil {
			return 0, nil, err
		}
	}
	took := make([]time.Duration, len(names))
	start := time.Now()
	// Every order runs; the first error is reported.
	var g errgroup.Group
	g.SetLimit(max(concurrency, 1))
	for i := range names {
		g.Go(func() error {
			t := time.Now()
			_, err := b.client.Certificate.ObtainForCSR(ctx, certificate.ObtainForCSRRequest{CSR: csrs[i], Bundle: true})
			took[i] = time.Since(t)
			if err != nil {
				return fmt.Errorf("bare lego order for %s: %w", names[i], err)
			}
			return nil
		})
	}
	err := g.Wait()
	return time.Since(start), took, err
}

// Close stops the DNS server and restores lego's resolver settings.
func (b *Bare) Close() {
	dns01.SetDefaultClient(b.prev)
	legolog.SetDefault(b.prevLog)
	_ = b.dns.Close()
}

// bareProvider is a lego DNS-01 provider writing into a dnsserver: the
// record is served once Present returns, so lego's propagation check is
// polled every 100 ms instead of its default 2 s (the hub, too, tells the
// CA to validate as soon as its DNS serves the record).
type bareProvider struct{ dns *dnsserver.Server }

func (p bareProvider) Present(ctx context.Context, domain, token, keyAuth string) error {
	info := dns01.GetChallengeInfo(ctx, domain, keyAuth)
	p.dns.PutTXT(info.EffectiveFQDN, token, info.Value)
	return nil
}

func (p bareProvider) CleanUp(ctx context.Context, domain, token, keyAuth string) error {
	info := dns01.GetChallengeInfo(ctx, domain, keyAuth)
	p.dns.DeleteTXT(info.EffectiveFQDN, token)
	return nil
}

func (bareProvider) Timeout() (timeout, interval time.Duration) {
	return time.Minute, 100 * time.Millisecond
}

// legoUser is the bare client's ACME account.
type legoUser struct {
	key crypto.Signer
	reg *acme.ExtendedAccount
}

func (u *legoUser) GetEmail() string                       { return "" }
func (u *legoUser) GetRegistration() *acme.ExtendedAccount { return u.reg }
func (u *legoUser) GetPrivateKey() crypto.Signer           { return u.key }

func parseCSR(pemBytes []byte) (*x509.CertificateRequest, error) {
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		return nil, errors.New("csr holds no PEM block")
	}
	return x509.ParseCertificateRequest(blk.Bytes)
}
