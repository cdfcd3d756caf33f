package acmedns

import (
	"encoding/json"
	"net/http"
)

// regResponse is acme-dns's RegResponse: the field order is the wire order.
type regResponse struct {
	Username   string   `json:"username"`
	Password   string   `json:"password"`
	Fulldomain string   `json:"fulldomain"`
	Subdomain  string   `json:"subdomain"`
	Allowfrom  []string `json:"allowfrom"`
}

type regRequest struct {
	AllowFrom []string `json:"allowfrom"`
}

func (a *API) register(w http.ResponseWriter, r *http.Request) {
	if a.cfg.DisableRegistration {
		a.log.Info("acme-dns register refused: registration disabled", "client", a.clientAddr(r))
		writeJSON(w, http.StatusForbidden, jsonError(errRegDisabled))
		return
	}
	body, ok := a.readBody(w, r)
	if !ok {
		return
	}
	var req regRequest
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			a.log.Info("acme-dns register: malformed body", "client", a.clientAddr(r), "err", err)
			writeJSON(w, http.StatusBadRequest, jsonError(errMalformedJSON))
			return
		}
	}
	if _, err := ParseAllowFrom(req.AllowFrom); err != nil {
		a.log.Info("acme-dns register: bad allowfrom", "client", a.clientAddr(r), "err", err)
		writeJSON(w, http.StatusBadRequest, jsonError(errInvalidCIDR))
		return
	}
	reg, key, err := NewRegistration(req.AllowFrom, "api", a.cfg.Now())
	if err == nil {
		err = a.store.CreateACMEDNS(r.Context(), reg)
	}
	if err != nil {
		a.log.Error("acme-dns register failed", "client", a.clientAddr(r), "err", err)
		writeJSON(w, http.StatusInternalServerError, jsonError(errDB))
		return
	}
	out, err := json.Marshal(regResponse{
		Username: reg.Username, Password: key, Fulldomain: a.FullDomain(reg.Subdomain),
		Subdomain: reg.Subdomain, Allowfrom: reg.AllowFrom,
	})
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, jsonError(errJSONMarshaling))
		return
	}
	a.cfg.OnChange(r.Context(), "registered", reg)
	a.log.Info("acme-dns registration created", "username", reg.Username, "subdomain", reg.Subdomain, "client", a.clientAddr(r))
	writeJSON(w, http.StatusCreated, out)
}

// readBody reads the body up to MaxBody; a larger one is answered 413.
func (a *API) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := readLimited(w, r, a.cfg.MaxBody)
	if err != nil {
		if isTooLarge(err) {
			a.log.Info("acme-dns request body too large", "path", r.URL.Path, "client", a.clientAddr(r), "limit", a.cfg.MaxBody)
			writeJSON(w, http.StatusRequestEntityTooLarge, jsonError(errTooLarge))
			return nil, false
		}
		a.log.Info("acme-dns request body unreadable", "path", r.URL.Path, "client", a.clientAddr(r), "err", err)
		writeJSON(w, http.StatusBadRequest, jsonError(errMalformedJSON))
		return nil, false
	}
	return body, true
}
