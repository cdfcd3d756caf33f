package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/certfleet/certfleet/hub/issuer"
	"github.com/certfleet/certfleet/hub/store"
)

// pullACMEAccount makes dir hold the ACME account the hubs share for ca,
// when the store has one: every hub on one NATS deployment orders as the
// same account, so any of them can resume an order another placed.
func (h *Hub) pullACMEAccount(ctx context.Context, ca, dir string) error {
	shared, err := h.store.GetACMEAccount(ctx, ca)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the shared ACME account: %w", err)
	}
	key, reg, err := issuer.ReadAccountFiles(dir)
	if err != nil {
		return err
	}
	if bytes.Equal(key, shared.Key) && bytes.Equal(reg, shared.Registration) {
		return nil
	}
	if key != nil {
		h.log.Warn("this hub's own ACME account differs from the one the hubs share; using the shared one", "ca", ca, "dir", dir)
	}
	if err := issuer.WriteAccountFiles(dir, shared.Key, shared.Registration); err != nil {
		return fmt.Errorf("store the shared ACME account in %s: %w", dir, err)
	}
	h.log.Info("using the ACME account shared by the hubs", "ca", ca)
	return nil
}

// pushACMEAccount offers the account in dir to the other hubs. If another
// hub registered first, its account wins: dir takes it, and the error says
// to build the issuer again.
func (h *Hub) pushACMEAccount(ctx context.Context, ca, dir string) error {
	key, reg, err := issuer.ReadAccountFiles(dir)
	if err != nil || key == nil {
		return err
	}
	err = h.store.CreateACMEAccount(ctx, store.ACMEAccount{CA: ca, Key: key, Registration: reg, Updated: time.Now().UTC()})
	if !errors.Is(err, store.ErrExists) {
		return err
	}
	shared, err := h.store.GetACMEAccount(ctx, ca)
	if err != nil {
		return fmt.Errorf("read the shared ACME account: %w", err)
	}
	if bytes.Equal(key, shared.Key) && bytes.Equal(reg, shared.Registration) {
		return nil
	}
	if err := h.pullACMEAccount(ctx, ca, dir); err != nil {
		return err
	}
	return errAccountTaken
}

// errAccountTaken: another hub registered the shared ACME account first;
// the account dir now holds it and the issuer must be built again.
var errAccountTaken = errors.New("another hub registered the ACME account first; this hub takes it over")
