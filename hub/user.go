package hub

import "time"

// Web dashboard roles.
const (
	RoleAdmin    = "admin"    // sees everything and acts (renew, enroll, remove, add domains)
	RoleReadOnly = "readonly" // sees everything, acts on nothing
)

// User is a web dashboard login. Hash is a bcrypt hash of the password;
// the password itself is never stored.
type User struct {
	Name string `json:"name"`
	Role string `json:"role"`
	Hash string `json:"hash"`
	// Email, when set (lower case), lets a client certificate carrying
	// it as a SAN e-mail address log in as this user.
	Email   string    `json:"email,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated,omitzero"`
}
