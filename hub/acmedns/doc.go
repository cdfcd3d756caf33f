// Package acmedns serves the acme-dns HTTP API (POST /register, POST
// /update, GET /health) on the hub, so DNS-01 clients written for acme-dns
// (lego, cert-manager, acme.sh, Traefik, Caddy, win-acme, Posh-ACME, ...)
// work unchanged. Status codes, JSON bodies and error codes are those of
// acme-dns v1/v2; registrations and TXT values live in the hub's store
// and the hub's DNS serves them from memory.
//
// Beyond acme-dns: an owner can delete its registration (DELETE
// /register), X-Forwarded-For is only believed from trusted proxies,
// bodies are size-limited, /register and /update are rate-limited per
// client address, and registration can be left to admins only.
package acmedns
