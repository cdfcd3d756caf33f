package issuer

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/registration"
)

const (
	userAgent = "certfleet-hub"
	// httpTimeout bounds one HTTPS exchange with the CA.
	httpTimeout = 2 * time.Minute
)

// Request asks for a certificate for a CSR.
type Request struct {
	// CSR names the certificate's identifiers (CN and DNS SANs) and holds
	// its public key; its private key stays with the agent.
	CSR *x509.CertificateRequest
	// Profile is an ACME profile name; "" lets the CA choose.
	Profile string
	// ReplacesCertID is the ARI CertID (see CertID) of the certificate
	// this one replaces; "" for none. A CA that rejects it is asked again
	// without it.
	ReplacesCertID string
	// OrderURL resumes this order instead of creating a new one: a valid
	// order's certificate is downloaded, a processing one awaited, a ready
	// one finalized and a pending one solved first. An order that is
	// invalid, unknown to the CA (or to this account), at another CA, for
	// other names or another profile, or whose certificate is for another
	// key or has expired, is replaced by a new order. Errors that leave the
	// order's state unknown (CA unreachable) are returned as they are.
	OrderURL string
	// OnOrder, if set, is called with the URL of each new order once it
	// exists and before any challenge is answered, so the caller can
	// record it for OrderURL. An error aborts Obtain; the order is left to
	// expire at the CA.
	OnOrder func(orderURL string) error
}

// Certificate is an issued certificate.
type Certificate struct {
	// ChainPEM is the leaf first, then intermediates, as PEM.
	ChainPEM string
	Leaf     *x509.Certificate
	// CertURL is the certificate's URL at the CA.
	CertURL string
}

// Issuer obtains certificates from one ACME CA. It is safe for concurrent
// use.
type Issuer struct {
	name       string
	dirURL     string
	accountDir string
	log        *slog.Logger
	transport  http.RoundTripper
	solver     Solver
	core       *api.Core // lego's ACME layer: JWS, nonces, bad-nonce retries
	accountURI string

	mu  sync.Mutex
	dir acme.Directory // latest fetched; guarded by mu
}

// New loads the ACME account from cfg.AccountDir, or creates a key and
// registers one, and readies DNS-01 solving through solver.
func New(ctx context.Context, cfg Config, solver Solver) (*Issuer, error) {
	if solver == nil {
		return nil, errors.New("new issuer: solver is nil")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new issuer: %w", err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("ca", cfg.Name)
	routeLegoLogs(logger)

	op := fmt.Sprintf("new issuer for CA %q", cfg.Name)
	tr, err := newTransport(cfg.CABundle)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	i := &Issuer{
		name:       cfg.Name,
		dirURL:     cfg.DirectoryURL,
		accountDir: cfg.AccountDir,
		log:        logger,
		transport:  tr,
		solver:     solver,
	}
	dir, err := fetchDirectory(ctx, i.httpClient(), cfg.DirectoryURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	i.dir = dir
	if err := ensureAccountDir(cfg.AccountDir); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	key, err := loadOrCreateKey(cfg.AccountDir, cfg.keyType(), logger)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	reg, err := loadRegistration(cfg.AccountDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := i.useAccount(ctx, cfg, key, reg); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return i, nil
}

// httpClient returns a client for our own requests. lego gets its own
// http.Client because it wraps the client's transport.
func (i *Issuer) httpClient() *http.Client {
	return &http.Client{Transport: i.transport, Timeout: httpTimeout}
}

// newACMEClient returns lego's ACME layer for u's key (and account URL, if
// registered) with a registrar for the account. Its transport records
// status and Retry-After for exchanges (see withExchange).
func (i *Issuer) newACMEClient(u *user) (*api.Core, *registration.Registrar, error) {
	kid := ""
	if u.reg != nil {
		kid = u.reg.Location
	}
	hc := &http.Client{Transport: observingTransport{rt: i.transport}, Timeout: httpTimeout}
	core, err := api.New(hc, userAgent, i.dirURL, kid, u.key)
	if err != nil {
		return nil, nil, classify("start ACME client", err)
	}
	return core, registration.NewRegistrar(core, u), nil
}

// useAccount reuses the stored registration when the CA still knows it,
// else registers the key, and sets i.core and i.accountURI.
func (i *Issuer) useAccount(ctx context.Context, cfg Config, key crypto.Signer, reg *accountRecord) error {
	u := &user{email: cfg.Email, key: key}
	switch {
	case reg != nil && reg.Directory == cfg.DirectoryURL:
		u.reg = &acme.ExtendedAccount{Location: reg.URI}
		core, registrar, err := i.newACMEClient(u)
		if err != nil {
			return err
		}
		acct, err := registrar.QueryRegistration(ctx)
		if err == nil {
			if acct.Status != "" && acct.Status != acme.StatusValid {
				return fmt.Errorf("ACME account %s is %s at the CA; move %s away to register a new account",
					reg.URI, acct.Status, i.accountDir)
			}
			i.core, i.accountURI = core, reg.URI
			i.log.Debug("reusing ACME account", "account", reg.URI)
			return nil
		}
		if p, ok := ProblemOf(err); !ok || p.Type != acme.AccountDoesNotExistErrorType {
			return classify("check ACME account "+reg.URI, err)
		}
		// The CA forgot the account (a test CA restarted, or it was
		// purged): the key is still ours, so register it again.
		i.log.Warn("stored ACME account is unknown to the CA; registering again", "account", reg.URI)
		u.reg = nil
	case reg != nil:
		i.log.Info("stored ACME account belongs to another directory; registering at this one",
			"stored_directory", reg.Directory)
	}

	// EAB credentials are needed only here: a registered account is
	// reused without them (some CAs hand out single-use ones).
	if i.dir.Meta.ExternalAccountRequired && cfg.EABKeyID == "" {
		return errors.New("the CA requires external account binding to register an account: set eab_kid and eab_hmac")
	}
	core, registrar, err := i.newACMEClient(u)
	if err != nil {
		return err
	}
	var acct *acme.ExtendedAccount
	if cfg.EABKeyID != "" {
		acct, err = registrar.RegisterWithExternalAccountBinding(ctx, registration.RegisterEABOptions{
			TermsOfServiceAgreed: true,
			Kid:                  cfg.EABKeyID,
			HmacEncoded:          cfg.EABHMAC,
		})
	} else {
		acct, err = registrar.Register(ctx, registration.RegisterOptions{TermsOfServiceAgreed: true})
	}
	if err != nil {
		return classify("register ACME account", err)
	}
	if acct == nil || acct.Location == "" {
		return errors.New("register ACME account: the CA returned no account URL")
	}
	if err := saveRegistration(i.accountDir, &accountRecord{
		Directory: cfg.DirectoryURL,
		URI:       acct.Location,
		Email:     cfg.Email,
		Created:   time.Now().UTC(),
	}); err != nil {
		return err
	}
	i.core, i.accountURI = core, acct.Location
	i.log.Info("registered ACME account", "account", acct.Location, "terms_of_service", i.dir.Meta.TermsOfService)
	return nil
}

// Name returns the CA's configured name.
func (i *Issuer) Name() string { return i.name }

// AccountURI returns the ACME account URL in use.
func (i *Issuer) AccountURI() string { return i.accountURI }

// Obtain orders a certificate for req.CSR, answers its DNS-01 challenges
// through the Solver, and returns the issued chain. With req.OrderURL it
// resumes that order where it stands: a caller that stores the URL OnOrder
// hands it before passing it back after a crash or failure never has a
// second certificate issued for one request. It fails with
// ErrUnknownProfile, before any new order, when the CA does not list the
// requested profile.
func (i *Issuer) Obtain(ctx context.Context, req Request) (*Certificate, error) {
	if req.CSR == nil {
		return nil, errors.New("obtain certificate: no CSR")
	}
	names := certcrypto.ExtractDomainsCSR(req.CSR)
	if len(names) == 0 {
		return nil, errors.New("obtain certificate: the CSR names no identifiers")
	}
	op := fmt.Sprintf("obtain certificate for %s from CA %q", strings.Join(names, ", "), i.name)
	// Only DNS identifiers can be validated by DNS-01.
	if len(req.CSR.IPAddresses)+len(req.CSR.EmailAddresses)+len(req.CSR.URIs) > 0 {
		return nil, fmt.Errorf("%s: the CSR has IP, email or URI SANs; only DNS names are issued", op)
	}
	if err := req.CSR.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%s: CSR signature: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}

	start := time.Now()
	run := &orderRun{i: i, req: req, names: names, log: i.log.With("names", names)}
	cert, err := run.obtain(ctx)
	if err != nil {
		var ue *unclassifiedError
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("%s: %w", op, ue.err)
		}
		return nil, classify(op, err)
	}
	run.log.Debug("certificate issued", "serial", cert.Leaf.SerialNumber.Text(16), "not_after", cert.Leaf.NotAfter,
		"profile", req.Profile, "order", run.orderURL, "took", time.Since(start).Round(time.Millisecond))
	return cert, nil
}

// replacesRejected reports whether err is the CA refusing a newOrder
// request for a reason that may be its replaces field (RFC 9773 lets a CA
// refuse a replacement of a certificate it did not issue to this account).
func (i *Issuer) replacesRejected(err error) bool {
	var pd *acme.ProblemDetails
	if !errors.As(err, &pd) || pd == nil {
		return false
	}
	i.mu.Lock()
	newOrder := i.dir.NewOrderURL
	i.mu.Unlock()
	switch pd.Type {
	case acme.RateLimitedErrorType, acme.InvalidProfileErrorType, acme.RejectedIdentifierErrorType,
		acme.BadNonceErrorType:
		return false
	}
	return pd.URL == newOrder
}

// Profiles returns the profiles the CA offers (name -> description), read
// from its directory now.
func (i *Issuer) Profiles(ctx context.Context) (map[string]string, error) {
	dir, err := fetchDirectory(ctx, i.httpClient(), i.dirURL)
	if err != nil {
		return nil, fmt.Errorf("list profiles of CA %q: %w", i.name, err)
	}
	i.mu.Lock()
	i.dir = dir
	i.mu.Unlock()
	out := make(map[string]string, len(dir.Meta.Profiles))
	maps.Copy(out, dir.Meta.Profiles)
	return out, nil
}

// checkProfile fails with ErrUnknownProfile unless the CA offers profile,
// re-reading the directory once in case the CA added it.
func (i *Issuer) checkProfile(ctx context.Context, profile string) error {
	i.mu.Lock()
	_, ok := i.dir.Meta.Profiles[profile]
	i.mu.Unlock()
	if ok {
		return nil
	}
	profiles, err := i.Profiles(ctx)
	if err != nil {
		return err
	}
	if _, ok := profiles[profile]; ok {
		return nil
	}
	offered := "none"
	if len(profiles) > 0 {
		offered = strings.Join(slices.Sorted(maps.Keys(profiles)), ", ")
	}
	return fmt.Errorf("%w %q: CA %q offers %s", ErrUnknownProfile, profile, i.name, offered)
}
