package acmedns

import (
	"net/http"
	"slices"
)

// cors answers preflights and marks responses for the configured origins,
// allowing the acme-dns credential headers. Without origins it does
// nothing (browsers then refuse cross-origin calls).
func (a *API) cors(next http.Handler) http.Handler {
	if len(a.cfg.CORSOrigins) == 0 {
		return next
	}
	any := slices.Contains(a.cfg.CORSOrigins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Origin")
		if !any && !slices.Contains(a.cfg.CORSOrigins, origin) {
			next.ServeHTTP(w, r)
			return
		}
		allow := origin
		if any {
			allow = "*"
		}
		w.Header().Set("Access-Control-Allow-Origin", allow)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type, X-Api-User, X-Api-Key")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
