package configfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// MaxSize bounds a configuration file: a few thousand certificate blocks
// fit; anything larger is a mistake (or /dev/zero), not a configuration.
const MaxSize = 1 << 20

// maxUnknown bounds the unknown keys reported one by one: past a few, the
// file is not this program's config at all, and each report costs a
// search for a suggestion.
const maxUnknown = 20

// ReadFile reads the file at path, refusing one larger than MaxSize
// without reading past the limit. Every error names the file; the caller
// adds what it was doing ("load config: ...").
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *fs.PathError: "open <path>: ..."
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if err := checkSize(len(data)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

func checkSize(n int) error {
	if n > MaxSize {
		return fmt.Errorf("%w: more than %d bytes (1 MiB)", ErrTooLarge, MaxSize)
	}
	return nil
}

// Decode decodes the TOML document data into v, a pointer to a struct
// that already holds the defaults: keys the file leaves out keep them.
//
// It fails on a document larger than MaxSize (ErrTooLarge), on a syntax
// error (ErrSyntax) or a value of the wrong type or range (ErrInvalid), as
// a *FieldError naming the key and line where the decoder knows them, and
// on keys v has no field for: an Errors with one ErrUnknownKey per key,
// with its line and a suggestion when a known key is close. Keys under an
// unknown table are not listed again; past 20 keys, a last problem counts
// the rest.
func Decode(data []byte, v any) error {
	if err := checkSize(len(data)); err != nil {
		return err
	}
	doc := string(data)
	md, err := toml.Decode(doc, v)
	if err != nil {
		// The decoder reports a syntax error and a value the target cannot
		// hold alike; parsing alone tells them apart.
		var raw map[string]any
		if _, perr := toml.Decode(doc, &raw); perr != nil {
			return decodeError(perr, ErrSyntax)
		}
		return decodeError(err, ErrInvalid)
	}
	und := md.Undecoded()
	if len(und) == 0 {
		return nil
	}
	known := knownKeys(v)
	lines := keyLines(doc)
	seen := map[string]int{} // occurrences so far, for [[array]] tables
	unknown := map[string]bool{}
	var errs Errors
	more := 0
	for _, k := range und {
		name := k.String()
		n := seen[name]
		seen[name]++
		line := 0
		if l := lines[name]; n < len(l) {
			line = l[n]
		}
		if underUnknown(k, unknown) {
			continue
		}
		unknown[name] = true
		if len(errs) == maxUnknown {
			more++
			continue
		}
		errs = append(errs, &FieldError{Field: name, Kind: ErrUnknownKey, Msg: suggest(k, known), Line: line})
	}
	if more > 0 {
		errs = append(errs, &FieldError{Kind: ErrUnknownKey, Msg: fmt.Sprintf("%d more not listed", more)})
	}
	return errs.Err()
}

// underUnknown reports whether a parent table of k is itself unknown.
func underUnknown(k toml.Key, unknown map[string]bool) bool {
	for i := 1; i < len(k); i++ {
		if unknown[k[:i].String()] {
			return true
		}
	}
	return false
}

// typeErrRe matches the decoder's type-mismatch message, which it returns
// as a plain error rather than a ParseError.
var typeErrRe = regexp.MustCompile(`^toml: line (\d+) \(last key "((?:[^"\\]|\\.)*)"\): (.*)$`)

// decodeError turns the decoder's error into a *FieldError of kind,
// naming the key and line when the decoder says them.
func decodeError(err error, kind error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &FieldError{Field: pe.LastKey, Kind: kind, Msg: pe.Message, Line: pe.Position.Line}
	}
	if m := typeErrRe.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		key, uerr := strconv.Unquote(`"` + m[2] + `"`)
		if uerr != nil {
			key = m[2]
		}
		return &FieldError{Field: key, Kind: kind, Msg: m[3], Line: line}
	}
	return &FieldError{Kind: kind, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
}
