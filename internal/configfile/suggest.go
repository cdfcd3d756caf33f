package configfile

import (
	"encoding"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// knownKeys lists the dotted keys v's type decodes, from its toml tags:
// tables and leaves alike, arrays of tables without indexes ("ca.name").
func knownKeys(v any) []string {
	var out []string
	walkKeys(reflect.TypeOf(v), "", &out, map[reflect.Type]bool{})
	return out
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	tomlUnmarshaler = reflect.TypeFor[toml.Unmarshaler]()
)

func walkKeys(t reflect.Type, prefix string, out *[]string, busy map[reflect.Type]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || busy[t] {
		return
	}
	// Types that decode themselves are leaves.
	if pt := reflect.PointerTo(t); pt.Implements(textUnmarshaler) || pt.Implements(tomlUnmarshaler) {
		return
	}
	busy[t] = true
	defer delete(busy, t)
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		key := toml.Key{name}.String()
		if prefix != "" {
			key = prefix + "." + key
		}
		*out = append(*out, key)
		walkKeys(f.Type, key, out, busy)
	}
}

// suggest returns `did you mean "x"?` for the known key the unknown key k
// was most likely meant to be, or "". It looks first for a key of the
// same table within a typo's distance, then for a key of the same name in
// another table (a line put under the wrong header).
func suggest(k toml.Key, known []string) string {
	parent := ""
	if len(k) > 1 {
		parent = k[:len(k)-1].String()
	}
	last := toml.Key{k[len(k)-1]}.String()
	best, bestD := "", 0
	var elsewhere []string
	for _, cand := range known {
		cp, cl := splitLast(cand)
		if cp != parent {
			if cl == last {
				elsewhere = append(elsewhere, cand)
			}
			continue
		}
		d := distance(strings.ToLower(last), strings.ToLower(cl))
		if d > 0 && d <= maxTypo(last) && (best == "" || d < bestD) {
			best, bestD = cand, d
		}
	}
	switch {
	case best != "":
		return `did you mean "` + best + `"?`
	case len(elsewhere) == 1:
		return `did you mean "` + elsewhere[0] + `"?`
	}
	return ""
}

// maxTypo is how far a key may be from a known one to count as a typo of
// it: one edit for short keys, two from six characters on.
func maxTypo(s string) int {
	if len(s) < 6 {
		return 1
	}
	return 2
}

func splitLast(key string) (parent, last string) {
	// Known keys come from struct tags, which hold no quotes or dots.
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[:i], key[i+1:]
	}
	return "", key
}

// distance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of neighbours each cost 1
// ("directroy" is one edit from "directory").
func distance(a, b string) int {
	x, y := []rune(a), []rune(b)
	// Keys are short; give up on anything long instead of allocating.
	if len(x) > 64 || len(y) > 64 {
		return 1 << 30
	}
	d := make([][]int, len(x)+1)
	for i := range d {
		d[i] = make([]int, len(y)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(x)][len(y)]
}
