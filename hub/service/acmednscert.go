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

// selfCert is the acme-dns API's certificate when tls = "self": the hub
// obtains it from its default CA for acmedns.api_name, answering the
// DNS-01 challenge in its own zone, keeps it in <data_dir>/acmedns and
// renews it when a third of its lifetime remains.
type selfCert struct {
	h      *Hub
	name   string
	dir    string
	cur    atomic.Pointer[tls.Certificate]
	cancel context.CancelFunc
	done   chan struct{}
}

const (
	selfRetryMin = 30 * time.Second
	selfRetryMax = time.Hour
)

func (h *Hub) newSelfCert(ctx context.Context) (*selfCert, error) {
	sc := &selfCert{h: h, name: shared.NormalizeName(h.cfg.ACMEDNS.APIName), dir: filepath.Join(h.cfg.DataDir, "acmedns"), done: make(chan struct{})}
	if err := os.MkdirAll(sc.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", sc.dir, err)
	}
	if c, err := tls.LoadX509KeyPair(sc.certPath(), sc.keyPath()); err == nil && c.Leaf != nil && slices.Contains(c.Leaf.DNSNames, sc.name) {
		sc.cur.Store(&c)
	}
	ctx, sc.cancel = context.WithCancel(ctx)
	go sc.run(ctx)
	return sc, nil
}

func (sc *selfCert) certPath() string { return filepath.Join(sc.dir, "api.pem") }
func (sc *selfCert) keyPath() string  { return filepath.Join(sc.dir, "api.key") }

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
	retry := selfRetryMin
	for {
		wait := time.Until(sc.renewAt())
		if wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		err := sc.obtain(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			retry = selfRetryMin
			continue
		}
		sc.h.log.Error("acme-dns api certificate: obtain failed; retrying", "name", sc.name, "retry_in", retry, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
		retry = min(retry*2, selfRetryMax)
	}
}

func (sc *selfCert) obtain(ctx context.Context) error {
	ca := sc.h.cfg.DefaultCA()
	iss, err := issuer.New(ctx, issuer.Config{
		Name: ca.Name, DirectoryURL: ca.Directory, Email: ca.Email, EABKeyID: ca.EABKID, EABHMAC: ca.EABHMAC,
		CABundle: ca.CABundle, KeyType: ca.KeyType,
		// Its own account directory: the order workers may be registering
		// the main account at the same moment.
		AccountDir: filepath.Join(ACMEDir(sc.h.cfg.DataDir), ca.Name+"-acmedns-api"),
		Logger:     sc.h.log.With("component", "acme", "ca", ca.Name, "for", "acmedns-api"),
	}, zoneSolver{sc.h})
	if err != nil {
		return fmt.Errorf("set up ACME account at %s: %w", ca.Directory, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: sc.name}, DNSNames: []string{sc.name}}, key)
	if err != nil {
		return fmt.Errorf("create csr: %w", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return fmt.Errorf("parse csr: %w", err)
	}
	cert, err := iss.Obtain(ctx, issuer.Request{CSR: csr})
	if err != nil {
		return err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	pair, err := tls.X509KeyPair([]byte(cert.ChainPEM), keyPEM)
	if err != nil {
		return fmt.Errorf("issued certificate does not match its key: %w", err)
	}
	if err := writeFileAtomic(sc.keyPath(), keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(sc.certPath(), []byte(cert.ChainPEM), 0o644); err != nil {
		return err
	}
	sc.cur.Store(&pair)
	sc.h.log.Info("acme-dns api certificate obtained", "name", sc.name, "not_after", cert.Leaf.NotAfter, "serial", cert.Leaf.SerialNumber.Text(16))
	return nil
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
