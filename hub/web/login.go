package web

import (
	"errors"
	"net/http"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/store"
)

type loginData struct {
	Name  string
	Token string
}

// loginPage shows the form with a fresh login CSRF token, also set as a
// cookie (double submit: a cross-site form cannot read the cookie).
//
// With a verified client certificate that names a user, it logs that user
// in instead; one that names nobody is refused (403) on the form, which
// still takes a password. After a logout (?out) the certificate is not
// used, or logging out would be impossible.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if !r.URL.Query().Has("out") {
		if _, ss, refused := s.certLogin(w, r); ss != nil {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		} else if refused {
			leaf := s.clientLeaf(r)
			s.opts.Log.Warn("web login by client certificate refused: no user has its CN or e-mail", "subject", leaf.Subject.String(),
				"emails", leaf.EmailAddresses, "remote", clientAddr(r))
			s.showLogin(w, r, http.StatusForbidden, "", certRefusal(leaf))
			return
		}
	}
	s.showLogin(w, r, http.StatusOK, "", "")
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, name, msg string) {
	tok := randomToken()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/login", HttpOnly: true, Secure: s.opts.Secure,
		SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	p := loginData{Name: name, Token: tok}
	s.renderLogin(w, r, status, p, msg)
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, p loginData, msg string) {
	t := s.pages["login"]
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := t.ExecuteTemplate(w, "layout.html", page{Title: "Log in", Zone: s.opts.Zone, Error: msg, Data: p, Nav: "login"}); err != nil {
		s.opts.Log.Error("render login page", "err", err)
	}
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	name, pass := r.PostFormValue("name"), r.PostFormValue("password")
	addr := clientAddr(r)
	c, err := r.Cookie(loginCookie)
	if err != nil || !tokenEqual(c.Value, r.PostFormValue("csrf")) {
		s.opts.Log.Warn("web login with a bad CSRF token refused", "remote", addr)
		s.showLogin(w, r, http.StatusForbidden, name, "The login form expired: try again.")
		return
	}
	if s.sessions.locked(name, addr) {
		s.opts.Log.Warn("web login refused: too many failures", "user", name, "remote", addr)
		s.showLogin(w, r, http.StatusTooManyRequests, name, "Too many failed logins: try again in 15 minutes.")
		return
	}
	u, err := s.opts.Backend.User(r.Context(), name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.opts.Log.Warn("web login: read user", "user", name, "err", err)
		s.showLogin(w, r, http.StatusServiceUnavailable, name, "The hub cannot read its store: try again shortly.")
		return
	}
	hash := dummyHash
	if err == nil {
		hash = []byte(u.Hash)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil || err != nil {
		s.sessions.fail(name, addr)
		s.opts.Log.Warn("web login failed", "user", name, "remote", addr)
		s.showLogin(w, r, http.StatusUnauthorized, name, "Wrong name or password.")
		return
	}
	s.sessions.succeed(name)
	s.startSession(w, u)
	s.opts.Log.Info("web login", "user", u.Name, "role", u.Role, "by", "password", "remote", addr)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// startSession creates a session for u and sets its cookie.
func (s *Server) startSession(w http.ResponseWriter, u hub.User) (string, *session) {
	tok, ss := s.sessions.create(u.Name, u.Role)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true, Secure: s.opts.Secure,
		SameSite: http.SameSiteStrictMode, Expires: time.Now().Add(sessionTTL)})
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: "/login", MaxAge: -1})
	return tok, ss
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, ss *session) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.drop(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.opts.Secure, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login?out", http.StatusSeeOther)
}
