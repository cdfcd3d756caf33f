package service

import "github.com/certfleet/certfleet/hub"

// logDamaged logs each damaged entry a listing skipped; what is listed for
// the admin carries them in its reply too.
func (h *Hub) logDamaged(what string, bad []hub.Damaged) {
	for _, d := range bad {
		h.log.Warn("damaged entry skipped", "listing", what, "store", d.Store, "key", d.Key, "err", d.Error)
	}
}
