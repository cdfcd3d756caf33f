package admin

import "github.com/certfleet/certfleet/hub"

// Web dashboard user verbs.
const (
	VerbUserAdd    = "user.add"
	VerbUserRemove = "user.remove"
	VerbUserList   = "user.list"
)

// UserAddRequest creates a dashboard user or replaces its role and
// password. The hub stores only a bcrypt hash of Password.
type UserAddRequest struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
	// Email, optional: a client certificate with it as a SAN e-mail
	// address logs in as this user (with [web] client_ca).
	Email string `json:"email,omitempty"`
}

// UserInfo is a user without its hash.
type UserInfo struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	Email string `json:"email,omitempty"`
}

// UserList lists dashboard users.
type UserList struct {
	Users   []UserInfo    `json:"users"`
	Damaged []hub.Damaged `json:"damaged,omitempty"`
}
