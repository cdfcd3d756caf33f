package configfile

import (
	"log/slog"
	"strconv"
)

// Deprecated returns the warning that field was written in an old
// spelling, old, which the program read as current.
func Deprecated(field, old, current string) *FieldError {
	return &FieldError{Field: field, Value: old, Kind: ErrDeprecated, Msg: "write " + strconv.Quote(current) + " instead"}
}

// LogDeprecated logs each warning once, at warn level, naming the file and
// field; call it once per load, after the logger the file configures is
// set up.
func LogDeprecated(log *slog.Logger, file string, warnings []*FieldError) {
	for _, w := range warnings {
		log.Warn("config file uses a deprecated spelling", "file", file, "field", w.Field,
			"value", w.Value, "fix", w.Msg)
	}
}
