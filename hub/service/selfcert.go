package service

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/issuer"
	"github.com/certfleet/certfleet/shared"
)

// selfCert is a certificate the hub obtains for one of its own names
// (the acme-dns API with tls = "self", the dashboard with tls = "self")
// from its default CA, answering the DNS-01 challenge in its own zone. It
// keeps it in files under the data dir, renews it when a third of its
// lifetime remains, and serves the current one to every new handshake
// (GetCertificate), so a renewal needs no restart.
type selfCert struct {
	log                *slog.Logger
	what, name         string
	certPath, keyPath  string
	issue              func(ctx context.Context) (chainPEM, keyPEM []byte, err error)
	retryMin, retryMax time.Duration
	cur                atomic.Pointer[tls.Certificate]
	cancel             context.CancelFunc
	done               chan struct{}
}

const (
	selfRetryMin = 30 * time.Second
	selfRetryMax = time.Hour
)

// selfCertSpec names one self-obtained certificate.
type selfCertSpec struct {
	what string // for the log: "acme-dns api", "dashboard"
	name string // the DNS name, in the hub's zone
	dir  string // where its files are kept
	base string // file names: <base>.pem and <base>.key
	// account is the ACME account directory's suffix: each certificate
	// has its own account, since the order workers (or the other
	// certificate) may be registering theirs at the same moment.
	account string
}

func (h *Hub) newSelfCert(ctx context.Context, spec selfCertSpec) (*selfCert, error) {
	name := shared.NormalizeName(spec.name)
	sc := &selfCert{log: h.log, what: spec.what, name: name,
		certPath: filepath.Join(spec.dir, spec.base+".pem"), keyPath: filepath.Join(spec.dir, spec.base+".key"),
		issue: func(ctx context.Context) ([]byte, []byte, error) {
			return h.issueSelf(ctx, name, spec.what, spec.account)
		},
		retryMin: selfRetryMin, retryMax: selfRetryMax}
	if err := os.MkdirAll(spec.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", spec.dir, err)
	}
	sc.start(ctx)
	return sc, nil
}

// start loads a certificate kept from before, if it is for the name, and
// runs the renewal loop until stop.
func (sc *selfCert) start(ctx context.Context) {
	if c, err := tls.LoadX509KeyPair(sc.certPath, sc.keyPath); err == nil && c.Leaf != nil && slices.Contains(c.Leaf.DNSNames, sc.name) {
		sc.cur.Store(&c)
	}
	sc.done = make(chan struct{})
	ctx, sc.cancel = context.WithCancel(ctx)
	go sc.run(ctx)
}

func (sc *selfCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := sc.cur.Load(); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("no certificate for %s yet (being obtained)", sc.name)
}

func (sc *selfCert) stop() {
	sc.cancel()
	<-sc.done
}

// renewAt is when the current certificate is due (now when there is none).
func (sc *selfCert) renewAt() time.Time {
	c := sc.cur.Load()
	if c == nil || c.Leaf == nil {
		return time.Time{}
	}
	life := c.Leaf.NotAfter.Sub(c.Leaf.NotBefore)
	return c.Leaf.NotAfter.Add(-life / 3)
}

func (sc *selfCert) run(ctx context.Context) {
	defer close(sc.done)
	retry := sc.retryMin
	for {
		wait := time.Until(sc.renewAt())
		if wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		err := sc.renew(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			retry = sc.retryMin
			continue
		}
		sc.log.Error(sc.what+" certificate: obtain failed; retrying", "name", sc.name, "retry_in", retry, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
		retry = min(retry*2, sc.retryMax)
	}
}

// renew obtains a new certificate, keeps it in the files, and serves it
// from the next handshake on.
func (sc *selfCert) renew(ctx context.Context) error {
	chainPEM, keyPEM, err := sc.issue(ctx)
	if err != nil {
		return err
	}
	pair, err := tls.X509KeyPair(chainPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("issued certificate does not match its key: %w", err)
	}
	if err := writeFileAtomic(sc.keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(sc.certPath, chainPEM, 0o644); err != nil {
		return err
	}
	sc.cur.Store(&pair)
	sc.log.Info(sc.what+" certificate obtained", "name", sc.name, "not_after", pair.Leaf.NotAfter, "serial", pair.Leaf.SerialNumber.Text(16))
	return nil
}

// issueSelf obtains a certificate for name, a name in the hub's own
// zone, from the default CA with a fresh P-256 key, under the ACME
// account <ca>-<account>.
func (h *Hub) issueSelf(ctx context.Context, name, what, account string) (chainPEM, keyPEM []byte, err error) {
	ca := h.cfg.DefaultCA()
	iss, err := issuer.New(ctx, issuer.Config{
		Name: ca.Name, DirectoryURL: ca.Directory, Email: ca.Email, EABKeyID: ca.EABKID, EABHMAC: ca.EABHMAC,
		CABundle: ca.CABundle, KeyType: ca.KeyType,
		AccountDir: filepath.Join(h.dir().ACME(), ca.Name+"-"+account),
		Logger:     h.log.With("component", "acme", "ca", ca.Name, "for", what),
	}, zoneSolver{h})
	if err != nil {
		return nil, nil, fmt.Errorf("set up ACME account at %s: %w", ca.Directory, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create csr: %w", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse csr: %w", err)
	}
	cert, err := iss.Obtain(ctx, issuer.Request{CSR: csr})
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key: %w", err)
	}
	return []byte(cert.ChainPEM), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// zoneSolver answers challenges for names inside the hub's own zone:
// the challenge name itself is in the zone, so no delegation is looked up.
type zoneSolver struct{ h *Hub }

func (s zoneSolver) check(fqdn string) (string, error) {
	fqdn = strings.ToLower(fqdn)
	zone := "." + strings.TrimSuffix(strings.ToLower(s.h.cfg.DNS.Domain), ".") + "."
	if !strings.HasSuffix(fqdn, zone) {
		return "", fmt.Errorf("challenge %s is outside the hub zone", fqdn)
	}
	return fqdn, nil
}

func (s zoneSolver) Present(ctx context.Context, challengeFQDN, value string) error {
	fqdn, err := s.check(challengeFQDN)
	if err != nil {
		return err
	}
	if err := s.h.store.PutChallenge(ctx, challengeKey(fqdn, value), hub.Challenge{FQDN: fqdn, Value: value, Created: time.Now().UTC()}); err != nil {
		return fmt.Errorf("store challenge for %s: %w", fqdn, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for !slices.Contains(s.h.dns.TXT(fqdn), value) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("challenge for %s not served by the hub's DNS: %w", fqdn, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	s.h.awaitPeersServe(ctx, fqdn, value)
	return nil
}

func (s zoneSolver) CleanUp(ctx context.Context, challengeFQDN, value string) error {
	fqdn, err := s.check(challengeFQDN)
	if err != nil {
		return err
	}
	if err := s.h.store.DeleteChallenge(ctx, challengeKey(fqdn, value)); err != nil {
		return fmt.Errorf("remove challenge for %s: %w", fqdn, err)
	}
	return nil
}
