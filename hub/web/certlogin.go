package web

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/store"
)

// errNoCertUser: a verified client certificate names no dashboard user.
var errNoCertUser = errors.New("the client certificate names no dashboard user")

// clientLeaf returns the client certificate of r's connection when the
// TLS stack verified it against the configured client CAs; never one it
// only received.
func (s *Server) clientLeaf(r *http.Request) *x509.Certificate {
	if !s.opts.ClientCerts || r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil
	}
	return r.TLS.VerifiedChains[0][0]
}

// certUser maps a verified client certificate to a user: the user named
// by its subject CN, else the user whose e-mail is one of its SAN e-mail
// addresses. errNoCertUser when neither names one.
func (s *Server) certUser(ctx context.Context, leaf *x509.Certificate) (hub.User, error) {
	if cn := leaf.Subject.CommonName; store.ValidateUserName(cn) == nil {
		u, err := s.opts.Backend.User(ctx, cn)
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return u, err
		}
	}
	for _, e := range leaf.EmailAddresses {
		u, err := s.opts.Backend.UserByEmail(ctx, strings.ToLower(e))
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return u, err
		}
	}
	return hub.User{}, errNoCertUser
}

// certLogin logs in the user r's client certificate maps to, if there is
// a certificate: it returns the new session and its token, or whether the
// certificate was refused (mapped to nobody; the login page, where every
// refusal ends up, logs it). A store failure is logged and treated as no
// certificate: the password form still works.
func (s *Server) certLogin(w http.ResponseWriter, r *http.Request) (tok string, ss *session, refused bool) {
	leaf := s.clientLeaf(r)
	if leaf == nil {
		return "", nil, false
	}
	u, err := s.certUser(r.Context(), leaf)
	switch {
	case errors.Is(err, errNoCertUser):
		return "", nil, true
	case err != nil:
		s.opts.Log.Warn("web login by client certificate: read user", "subject", leaf.Subject.String(), "err", err)
		return "", nil, false
	}
	tok, ss = s.startSession(w, u)
	s.opts.Log.Info("web login", "user", u.Name, "role", u.Role, "by", "client certificate", "subject", leaf.Subject.String(), "remote", clientAddr(r))
	return tok, ss, false
}

// certRefusal is what the login page says about a refused certificate.
func certRefusal(leaf *x509.Certificate) string {
	return "Your client certificate (" + leaf.Subject.String() + ") is not a dashboard user: log in with a password, or ask an admin to add its CN or e-mail as a user."
}
