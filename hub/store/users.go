package store

import (
	"context"
	"fmt"
	"regexp"

	"github.com/certfleet/certfleet/hub"
)

// BucketUsers holds the web dashboard's users (bcrypt hashes, roles).
const BucketUsers = "certfleet_users"

var userNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidateUserName checks a dashboard user name: lower-case letters,
// digits, '.', '_' and '-', at most 64 characters (also a valid KV key).
func ValidateUserName(name string) error {
	if !userNameRe.MatchString(name) {
		return fmt.Errorf("user name %q: want 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// PutUser writes u (created or replaced).
func (s *Store) PutUser(ctx context.Context, u hub.User) error {
	if err := ValidateUserName(u.Name); err != nil {
		return fmt.Errorf("put user: %w", err)
	}
	if err := putValue(ctx, s, s.users, u.Name, u); err != nil {
		return fmt.Errorf("put user %s: %w", u.Name, err)
	}
	return nil
}

// GetUser returns the user called name, or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, name string) (hub.User, error) {
	if err := ValidateUserName(name); err != nil {
		return hub.User{}, ErrNotFound
	}
	u, _, err := getValue[hub.User](ctx, s, s.users, name)
	if err != nil {
		return u, fmt.Errorf("get user %s: %w", name, err)
	}
	return u, nil
}

// DeleteUser removes the user called name (ErrNotFound when absent).
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	if err := ValidateUserName(name); err != nil {
		return ErrNotFound
	}
	if err := deleteValue(ctx, s, s.users, name); err != nil {
		return fmt.Errorf("delete user %s: %w", name, err)
	}
	return nil
}

// ListUsers returns every user, sorted by name.
func (s *Store) ListUsers(ctx context.Context) ([]hub.User, []hub.Damaged, error) {
	us, bad, err := listValues(ctx, s, s.users, "", func(key string, u hub.User) error {
		return belongs("user", func() (string, error) { return u.Name, ValidateUserName(u.Name) }, key)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list users: %w", err)
	}
	return us, bad, nil
}
