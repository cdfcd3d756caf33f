package configfile

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kinds of FieldError, for errors.Is. The message says what is wrong in
// words; the kind lets code (and tests) tell problems apart without
// matching text.
var (
	// ErrRequired: the field has no value and needs one.
	ErrRequired = errors.New("required")
	// ErrInvalid: the value is not of the form the field takes.
	ErrInvalid = errors.New("invalid")
	// ErrOutOfRange: a number or duration outside the bounds the field allows.
	ErrOutOfRange = errors.New("out of range")
	// ErrConflict: the field contradicts, or needs, another field.
	ErrConflict = errors.New("conflict")
	// ErrDuplicate: the value is already used where it must be unique.
	ErrDuplicate = errors.New("duplicate")
	// ErrUnknownKey: the file has a key the program does not know.
	ErrUnknownKey = errors.New("unknown key")
	// ErrDeprecated: an old spelling, accepted and normalised; a warning,
	// never returned as an error.
	ErrDeprecated = errors.New("deprecated")
	// ErrSyntax: the file is not TOML.
	ErrSyntax = errors.New("syntax error")
	// ErrTooLarge: the file is larger than MaxSize.
	ErrTooLarge = errors.New("config file too large")
)

// FieldError is one problem with one field of a configuration file.
type FieldError struct {
	// Field is the key as the file spells it, with indexes for arrays:
	// "dns.domain", "ca[1].key_type", "certificate[0].names[2]". Empty
	// only for a syntax error that belongs to no key.
	Field string
	// Value is the offending value, shown in the message (strings quoted);
	// nil when there is none to show, or when it is a secret.
	Value any
	// Kind is one of the Err* sentinels above.
	Kind error
	// Msg says what is wanted, e.g. "want debug, info, warn or error".
	Msg string
	// Line is the line of the file the problem is on; 0 when unknown
	// (Validate works on decoded values, which have no lines).
	Line int
}

// labels are the words a kind adds to the message: the other kinds'
// messages say what is wanted, which already tells the problem.
var labels = map[error]string{
	ErrRequired:   "required",
	ErrUnknownKey: "unknown key",
	ErrDeprecated: "deprecated",
	ErrSyntax:     "syntax error",
}

// Error reads "field (line N): value: label: msg", leaving out the parts
// that are empty, e.g. `log_level: "loud": want debug, info, warn or
// error` or `dns.domian (line 3): unknown key: did you mean "dns.domain"?`.
func (e *FieldError) Error() string {
	head := e.Field
	if e.Line > 0 {
		if head == "" {
			head = "line " + strconv.Itoa(e.Line)
		} else {
			head += " (line " + strconv.Itoa(e.Line) + ")"
		}
	}
	parts := make([]string, 0, 4)
	if head != "" {
		parts = append(parts, head)
	}
	if e.Value != nil {
		parts = append(parts, formatValue(e.Value))
	}
	if l := labels[e.Kind]; l != "" {
		parts = append(parts, l)
	}
	if e.Msg != "" {
		parts = append(parts, e.Msg)
	}
	return strings.Join(parts, ": ")
}

// Unwrap returns the kind, so errors.Is(err, ErrRequired) works through
// any wrapping.
func (e *FieldError) Unwrap() error { return e.Kind }

func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// Errors is every problem found in one file, in the order found. Its
// message has one problem per line.
type Errors []*FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, for errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Err returns es as an error, or nil when there are no problems.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Add records a problem; Msg is fmt.Sprintf(format, args...).
func (es *Errors) Add(field string, kind error, value any, format string, args ...any) {
	*es = append(*es, &FieldError{Field: field, Value: value, Kind: kind, Msg: fmt.Sprintf(format, args...)})
}

// Required records that field needs a value; format (may be "") says
// what it is for or when it is needed.
func (es *Errors) Required(field, format string, args ...any) {
	es.Add(field, ErrRequired, nil, format, args...)
}

// Invalid records that value is not of the form field takes.
func (es *Errors) Invalid(field string, value any, format string, args ...any) {
	es.Add(field, ErrInvalid, value, format, args...)
}

// OutOfRange records that value lies outside field's bounds.
func (es *Errors) OutOfRange(field string, value any, format string, args ...any) {
	es.Add(field, ErrOutOfRange, value, format, args...)
}

// Conflict records that field contradicts, or needs, another field.
func (es *Errors) Conflict(field, format string, args ...any) {
	es.Add(field, ErrConflict, nil, format, args...)
}

// Duplicate records that value of field is already used elsewhere.
func (es *Errors) Duplicate(field string, value any, format string, args ...any) {
	es.Add(field, ErrDuplicate, value, format, args...)
}

// FieldErrors returns every *FieldError in err's tree, in order: the
// problems of an Errors, through any %w wrapping.
func FieldErrors(err error) []*FieldError {
	switch e := err.(type) {
	case nil:
		return nil
	case *FieldError:
		return []*FieldError{e}
	case interface{ Unwrap() []error }:
		var out []*FieldError
		for _, inner := range e.Unwrap() {
			out = append(out, FieldErrors(inner)...)
		}
		return out
	case interface{ Unwrap() error }:
		return FieldErrors(e.Unwrap())
	}
	return nil
}
