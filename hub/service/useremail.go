package service

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

// userEmail checks a user's --email: a bare address, lower-cased, that no
// other user has (a client certificate must name one user, not several).
func userEmail(ctx context.Context, h *Hub, req admin.UserAddRequest) (string, error) {
	if req.Email == "" {
		return "", nil
	}
	a, err := mail.ParseAddress(req.Email)
	if err != nil || a.Address != req.Email || a.Name != "" {
		return "", shared.Errorf(shared.CodeBadRequest, "--email %q: want a bare e-mail address like alice@example.org", req.Email)
	}
	email := strings.ToLower(a.Address)
	other, err := userByEmail(ctx, h, email, req.Name)
	switch {
	case err == nil:
		return "", shared.Errorf(shared.CodeBadRequest, "--email %s: user %s has it already; a certificate must name one user", email, other.Name)
	case !errors.Is(err, store.ErrNotFound):
		return "", err
	}
	return email, nil
}

// userByEmail finds the user (other than except) whose e-mail is email.
// Users are few and this runs once per certificate login, so it lists
// them. store.ErrNotFound when none has it; an error when several do
// (written concurrently, or by hand): then nobody logs in by it.
func userByEmail(ctx context.Context, h *Hub, email, except string) (hub.User, error) {
	us, bad, err := h.store.ListUsers(ctx)
	if err != nil {
		return hub.User{}, err
	}
	h.logDamaged("users", bad)
	var found []hub.User
	for _, u := range us {
		if u.Email != "" && u.Email == email && u.Name != except {
			found = append(found, u)
		}
	}
	switch len(found) {
	case 0:
		return hub.User{}, fmt.Errorf("user with e-mail %s: %w", email, store.ErrNotFound)
	case 1:
		return found[0], nil
	default:
		return hub.User{}, fmt.Errorf("users %s and %s both have e-mail %s: fix one with `certfleet-hub user add`", found[0].Name, found[1].Name, email)
	}
}
