// Package configfile is the one way both certfleet binaries read their
// TOML configuration files.
//
// Each config package follows the same idiom (as litestream's does):
//
//	DefaultConfig() Config          every default, no file needed
//	ParseConfig(data) (Config, error)
//	                                Decode over DefaultConfig, then fill the
//	                                defaults that depend on other fields and
//	                                normalise spellings (see Deprecated)
//	(Config) Validate() error       every problem at once, as Errors
//	Load(path) (Config, error)      ReadFile, ParseConfig, Validate
//
// Decode caps the file at MaxSize, decodes with BurntSushi/toml and turns
// every key the target does not know into an error that names the key, its
// line and, when one is close, the key that was probably meant: a misspelt
// key must never silently fall back to a default.
//
// Problems are *FieldError values naming the field as the file spells it
// ("dns.domain", "certificate[1].names[0]") with one of a few sentinel
// kinds (ErrRequired, ErrInvalid, ...) that errors.Is matches, collected in
// Errors. Messages share one vocabulary: an absent value is "required",
// never "missing" or "must be set"; a bad value is quoted and followed by
// what is wanted ("\"loud\": want debug, info, warn or error").
package configfile
