package acmedns

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/certfleet/certfleet/hub"
)

type updateRequest struct {
	Subdomain string `json:"subdomain"`
	TXT       string `json:"txt"`
}

// update sets a TXT value. As in acme-dns, every authentication failure
// (unknown user, wrong key, address not allowed, body naming another
// subdomain or not decodable) is 401 "forbidden", and only an
// authenticated request learns that its data is bad.
func (a *API) update(w http.ResponseWriter, r *http.Request) {
	reg, req, ok := a.ownRequest(w, r, "update")
	if !ok {
		return
	}
	switch {
	case !ValidSubdomain(req.Subdomain):
		writeJSON(w, http.StatusBadRequest, jsonError(errBadSubdomain))
		return
	case !ValidTXT(req.TXT):
		a.log.Info("acme-dns update: bad txt", "username", reg.Username, "client", a.clientAddr(r))
		writeJSON(w, http.StatusBadRequest, jsonError(errBadTXT))
		return
	}
	if _, err := a.store.SetACMEDNSTXT(r.Context(), reg.Username, req.TXT, a.cfg.Now()); err != nil {
		a.log.Error("acme-dns update failed", "username", reg.Username, "err", err)
		writeJSON(w, http.StatusInternalServerError, jsonError(errDB))
		return
	}
	a.awaitVisible(r.Context(), a.FullDomain(reg.Subdomain), req.TXT)
	a.log.Info("acme-dns txt updated", "username", reg.Username, "fqdn", a.FullDomain(reg.Subdomain))
	// acme-dns writes this literally; the value is 43 safe characters.
	writeJSON(w, http.StatusOK, []byte(`{"txt": "`+req.TXT+`"}`))
}

// ownRequest reads the body, authenticates the caller and checks that the
// body names the caller's own subdomain; on any failure it has answered
// (every authentication failure is 401 "forbidden", as in acme-dns).
func (a *API) ownRequest(w http.ResponseWriter, r *http.Request, action string) (hub.ACMEDNSRegistration, updateRequest, bool) {
	var req updateRequest
	body, ok := a.readBody(w, r)
	if !ok {
		return hub.ACMEDNSRegistration{}, req, false
	}
	reg, ok := a.authenticate(w, r)
	if !ok {
		return reg, req, false
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Subdomain != reg.Subdomain {
		a.log.Info("acme-dns "+action+" refused: subdomain mismatch or malformed body", "username", reg.Username, "client", a.clientAddr(r))
		writeJSON(w, http.StatusUnauthorized, jsonError(errForbidden))
		return reg, req, false
	}
	return reg, req, true
}

// unregister deletes the caller's own registration (not in acme-dns).
// The body names the subdomain, like /update's, so a stray DELETE with
// the right headers alone does not remove an account.
func (a *API) unregister(w http.ResponseWriter, r *http.Request) {
	reg, _, ok := a.ownRequest(w, r, "unregister")
	if !ok {
		return
	}
	err := a.store.DeleteACMEDNS(r.Context(), reg.Username)
	switch {
	case isNotFound(err):
		writeJSON(w, http.StatusNotFound, jsonError(errNotFound))
		return
	case err != nil:
		a.log.Error("acme-dns unregister failed", "username", reg.Username, "err", err)
		writeJSON(w, http.StatusInternalServerError, jsonError(errDB))
		return
	}
	a.auth.forget(reg.Username)
	a.cfg.OnChange(r.Context(), "removed", reg)
	a.log.Info("acme-dns registration deleted by its owner", "username", reg.Username, "client", a.clientAddr(r))
	w.WriteHeader(http.StatusNoContent)
}

// awaitVisible waits until the hub's DNS serves value at fqdn, so the
// answer to /update means "the CA can look now".
func (a *API) awaitVisible(ctx context.Context, fqdn, value string) {
	if a.cfg.Visible == nil {
		return
	}
	deadline := time.Now().Add(a.cfg.VisibleWait)
	delay := time.Millisecond
	for !a.cfg.Visible(fqdn, value) {
		if time.Now().After(deadline) {
			a.log.Warn("acme-dns txt stored but not yet served by this hub's DNS", "fqdn", fqdn, "waited", a.cfg.VisibleWait)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 50*time.Millisecond)
	}
}

func readLimited(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
}

func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}
