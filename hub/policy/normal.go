package policy

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/certfleet/certfleet/shared"
)

// CheckNormalised refuses a CSR name that is not already in the form the
// hub checks and the CA issues for: lower-case LDH labels (plus a leading
// "*" label), no spaces, no trailing dot, every "xn--" label a valid
// A-label. The hub never repairs such a name, because the CA reads the
// raw CSR: U+212A KELVIN SIGN lower-cases to an ASCII "k", so a repaired
// name would pass the allow list while the CA saw another one.
func CheckNormalised(raw string) error {
	fail := func(why string, args ...any) error {
		return shared.Errorf(shared.CodeNameNotNormalised, "name %q is not in normal form: "+why, append([]any{raw}, args...)...)
	}
	if !utf8.ValidString(raw) {
		return fail("not valid UTF-8")
	}
	if strings.TrimSpace(raw) != raw {
		return fail("leading or trailing white space")
	}
	for i, r := range raw {
		switch {
		case r >= utf8.RuneSelf:
			if a, err := idna.Registration.ToASCII(raw); err == nil && a != raw {
				return fail("non-ASCII character %U at byte %d; use the A-label form %q", r, i, a)
			}
			return fail("non-ASCII character %U at byte %d (only LDH names are issued; write an internationalised name as its xn-- A-label)", r, i)
		case r >= 'A' && r <= 'Z':
			return fail("upper-case letter at byte %d; use %q", i, strings.ToLower(raw))
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.', r == '*':
		default:
			return fail("character %q at byte %d is not a letter, digit, hyphen or dot", r, i)
		}
	}
	if strings.HasSuffix(raw, ".") {
		return fail("trailing dot")
	}
	for _, l := range strings.Split(raw, ".") {
		if len(l) >= 4 && l[2:4] == "--" && !validALabel(l) {
			if strings.HasPrefix(l, "xn--") {
				return fail("label %q is not a valid IDNA A-label", l)
			}
			// RFC 5891 4.2.3.1: "--" in positions 3-4 is reserved for
			// A-labels ("xn--"); any other such label is refused by CAs.
			return fail("label %q has \"--\" in positions 3 and 4, which only IDNA A-labels (xn--) may", l)
		}
	}
	return nil
}

// validALabel reports whether l is an A-label that decodes to a valid
// U-label and encodes back to exactly l.
func validALabel(l string) bool {
	if !strings.HasPrefix(l, "xn--") {
		return false
	}
	u, err := idna.Registration.ToUnicode(l)
	if err != nil || u == l {
		return false
	}
	a, err := idna.Registration.ToASCII(u)
	return err == nil && a == l
}
