package alarm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// selfSigned returns a TLS certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// mail is one message the catcher received.
type mail struct {
	From     string
	To       []string
	Data     string
	User     string
	TLS      bool
	AuthUsed bool
}

// smtpCatcher is a real SMTP server (go-smtp) on 127.0.0.1 that keeps
// what it is sent. With tlsCert it offers STARTTLS; with user it requires
// PLAIN auth with that user and password.
type smtpCatcher struct {
	Addr  string
	mu    sync.Mutex
	mails []mail
	user  string
	pass  string
}

func startSMTP(tb testing.TB, cert *tls.Certificate, user, pass string) *smtpCatcher {
	tb.Helper()
	c := &smtpCatcher{user: user, pass: pass}
	s := smtp.NewServer(c)
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	if cert != nil {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	c.Addr = ln.Addr().String()
	go func() { _ = s.Serve(ln) }()
	tb.Cleanup(func() { _ = s.Close() })
	return c
}

func (c *smtpCatcher) Mails() []mail {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]mail(nil), c.mails...)
}

func (c *smtpCatcher) NewSession(conn *smtp.Conn) (smtp.Session, error) {
	_, isTLS := conn.TLSConnectionState()
	return &smtpSession{c: c, m: mail{TLS: isTLS}}, nil
}

type smtpSession struct {
	c *smtpCatcher
	m mail
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.c.user || pass != s.c.pass {
			return errors.New("invalid credentials")
		}
		s.m.User, s.m.AuthUsed = user, true
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.c.user != "" && !s.m.AuthUsed {
		return &smtp.SMTPError{Code: 530, Message: "authentication required"}
	}
	s.m.From = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.m.To = append(s.m.To, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.Data = string(b)
	s.c.mu.Lock()
	s.c.mails = append(s.c.mails, s.m)
	s.c.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.m = mail{TLS: s.m.TLS, User: s.m.User, AuthUsed: s.m.AuthUsed} }
func (s *smtpSession) Logout() error { return nil }
