package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/acmedns"
	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/store"
)

// acmednsServer is the running acme-dns API listener.
type acmednsServer struct {
	srv  *http.Server
	ln   net.Listener
	url  string
	done chan struct{}
	stop func() // stops background work (certificate renewal)
}

// acmednsFQDN is the owner name of a registration's TXT records.
func (h *Hub) acmednsFQDN(subdomain string) string {
	return strings.ToLower(subdomain) + "." + strings.TrimSuffix(strings.ToLower(h.cfg.DNS.Domain), ".") + "."
}

// loadACMEDNS feeds the DNS server with the TXT values of acme-dns
// registrations, as loadDNS does with challenges. It runs whether or not
// the API is enabled, so imported registrations are answered by every
// hub of a cluster.
func (h *Hub) loadACMEDNS(ctx context.Context) error {
	w, err := h.store.WatchACMEDNS(ctx, func(put bool, user string, r hub.ACMEDNSRegistration) {
		fqdn := h.acmednsFQDN(r.Subdomain)
		for i := range hub.ACMEDNSKeep {
			id := "acmedns-" + user + "-" + strconv.Itoa(i)
			if put && i < len(r.TXT) && r.TXT[i].Value != "" {
				h.dns.PutTXT(fqdn, id, r.TXT[i].Value)
			} else {
				h.dns.DeleteTXT(fqdn, id)
			}
		}
	})
	if err != nil {
		return fmt.Errorf("load acme-dns registrations: %w", err)
	}
	h.watches = append(h.watches, w)
	return nil
}

// startACMEDNS opens the acme-dns API listener when [acmedns] is enabled.
func (h *Hub) startACMEDNS(ctx context.Context) error {
	c := h.cfg.ACMEDNS
	if !c.Enabled {
		return nil
	}
	rate := c.RateLimit
	if rate == 0 {
		rate = -1
	}
	api, err := acmedns.New(acmedns.Config{
		Zone: h.cfg.DNS.Domain, DisableRegistration: c.DisableRegistration,
		TrustedProxies: c.TrustedProxyPrefixes(), CORSOrigins: c.CORSOrigins,
		MaxBody: int64(c.MaxBody), Rate: rate, Burst: c.RateBurst,
		Visible: func(fqdn, value string) bool {
			if !slices.Contains(h.dns.TXT(fqdn), value) {
				return false
			}
			// And at the other hubs (peers.go): the client's CA may ask
			// any of them. Bounded by its own timeouts.
			h.awaitPeersServe(ctx, fqdn, value)
			return true
		},
		OnChange: func(ctx context.Context, event string, r hub.ACMEDNSRegistration) {
			kind := store.AuditACMEDNSRegistered
			if event == "removed" {
				kind = store.AuditACMEDNSRemoved
			}
			h.audit(ctx, store.AuditEvent{Kind: kind, Names: []string{h.acmednsFulldomain(r.Subdomain)}, Detail: "username " + r.Username + " by its owner over the API"})
		},
		Logger: h.log.With("component", "acmedns"),
	}, h.store)
	if err != nil {
		return fmt.Errorf("configure acme-dns api: %w", err)
	}
	s := &acmednsServer{srv: api.HTTPServer(), done: make(chan struct{}), stop: func() {}}
	if h.metrics != nil {
		s.srv.Handler = h.metrics.InstrumentACMEDNS(s.srv.Handler)
	}
	scheme := "https"
	switch c.TLS {
	case config.ACMEDNSTLSFiles:
		fc, err := newFileCert(c.TLSCert, c.TLSKey, "acmedns.tls_cert/tls_key")
		if err != nil {
			return err
		}
		s.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: fc.get}
	case config.ACMEDNSTLSSelf:
		sc, err := h.newSelfCert(ctx, selfCertSpec{what: "acme-dns api", name: c.APIName,
			dir: h.dir().ACMEDNS(), base: "api", account: "acmedns-api"})
		if err != nil {
			return err
		}
		s.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: sc.get}
		s.stop = sc.stop
	case config.ACMEDNSTLSOff:
		scheme = "http"
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		s.stop()
		return fmt.Errorf("listen for the acme-dns api on %s: %w", c.Listen, err)
	}
	s.ln = ln
	s.url = scheme + "://" + ln.Addr().String()
	go func() {
		defer close(s.done)
		var err error
		if s.srv.TLSConfig != nil {
			err = s.srv.ServeTLS(ln, "", "")
		} else {
			err = s.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("acme-dns api stopped", "err", err)
		}
	}()
	h.acmedns = s
	h.log.Info("acme-dns api listening", "url", s.url, "registration", !c.DisableRegistration)
	return nil
}

// stopACMEDNS lets in-flight requests finish (briefly), then closes.
func (h *Hub) stopACMEDNS() {
	s := h.acmedns
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	<-s.done
	s.stop()
}

// acmednsURL is the API's URL for the run file ("" when off).
func (h *Hub) acmednsURL() string {
	if h.acmedns == nil {
		return ""
	}
	return h.acmedns.url
}
