package inventory

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// maxDoubleStars bounds "**" elements per pattern: each one multiplies
// the matching work by the depth of the tree.
const maxDoubleStars = 3

// Pattern is a compiled inventory path: a base directory without
// wildcards and the elements below it.
type Pattern struct {
	// Raw is the pattern as configured.
	Raw string
	// Base is the longest leading directory without wildcards, in the
	// platform's form.
	Base string
	// elems are the slash-separated elements after Base; empty when the
	// pattern has no wildcard (Base then names a file or a directory
	// whose files are scanned).
	elems []string
}

// CompilePattern checks an inventory path: absolute, "*", "?" and "[...]"
// within one element, "**" only as a whole element (any depth, zero
// included).
func CompilePattern(raw string) (Pattern, error) {
	if raw == "" {
		return Pattern{}, errors.New("empty pattern")
	}
	if !filepath.IsAbs(raw) {
		return Pattern{}, fmt.Errorf("%q is not an absolute path", raw)
	}
	vol := filepath.VolumeName(raw)
	rest := filepath.ToSlash(filepath.Clean(raw)[len(vol):])
	elems := strings.Split(strings.Trim(rest, "/"), "/")
	p := Pattern{Raw: raw}
	base := []string{}
	i := 0
	for ; i < len(elems) && !hasMeta(elems[i]); i++ {
		if elems[i] != "" {
			base = append(base, elems[i])
		}
	}
	p.Base = filepath.FromSlash(vol + "/" + strings.Join(base, "/"))
	stars := 0
	for _, e := range elems[i:] {
		switch {
		case e == "**":
			stars++
		case strings.Contains(e, "**"):
			return Pattern{}, fmt.Errorf("%q: \"**\" must be a whole path element, as in /etc/ssl/**/*.pem", raw)
		default:
			if _, err := path.Match(e, ""); err != nil {
				return Pattern{}, fmt.Errorf("%q: element %q: %w", raw, e, err)
			}
		}
		p.elems = append(p.elems, e)
	}
	if stars > maxDoubleStars {
		return Pattern{}, fmt.Errorf("%q: %d \"**\" elements, limit %d", raw, stars, maxDoubleStars)
	}
	return p, nil
}

// hasMeta reports whether a path element holds glob syntax. On Windows a
// backslash is a separator, never an escape, and never reaches here.
func hasMeta(e string) bool { return strings.ContainsAny(e, `*?[\`) }

// literal reports whether the pattern has no wildcard at all.
func (p Pattern) literal() bool { return len(p.elems) == 0 }

// match reports whether a file at rel (slash-separated elements below
// Base) matches.
func (p Pattern) match(rel []string) bool { return matchElems(p.elems, rel, false) }

// descend reports whether a directory at rel may hold matching files.
func (p Pattern) descend(rel []string) bool { return matchElems(p.elems, rel, true) }

// matchElems matches name against pat element by element. With prefix,
// name is a directory: it succeeds when files below it could still
// match.
func matchElems(pat, name []string, prefix bool) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			if prefix {
				return true
			}
			for i := 0; i <= len(name); i++ {
				if matchElems(pat[1:], name[i:], false) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return prefix
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0 && !prefix
}
