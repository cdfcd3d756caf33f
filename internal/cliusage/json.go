package cliusage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/spf13/cobra"
)

// JSONFlag adds the --json flag every printing command of both binaries
// has: the command then prints exactly one JSON object or array on
// standard output (README, "JSON output"), and errors still go to
// standard error with the usual exit code.
func JSONFlag(c *cobra.Command, p *bool) {
	c.Flags().BoolVar(p, "json", false, "print one JSON value instead of text (fields: README, JSON output)")
}

// PrintJSON writes v to w as indented JSON and a newline, with every rune
// a terminal could act on escaped (SafeJSON) and every list that is nil
// written as [] (a field with omitempty is left out as before), so a
// script never has to tell null from an empty list.
func PrintJSON(w io.Writer, v any) error {
	if v != nil {
		v = emptyLists(reflect.ValueOf(v)).Interface()
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode json output: %w", err)
	}
	_, err = w.Write(append(SafeJSON(b), '\n'))
	return err
}

// SafeJSON rewrites encoded JSON so that no rune outside printable
// ASCII-or-graphic reaches the terminal: encoding/json already escapes C0
// controls and U+2028/U+2029, but not DEL, C1 controls or bidi overrides,
// which agents and public DNS can put into what the CLI prints. Such runes
// only occur inside strings, where a \u escape means the same.
func SafeJSON(b []byte) []byte {
	if utf8.Valid(b) && !bytes.ContainsFunc(b, func(r rune) bool { return r >= utf8.RuneSelf-1 && !unicode.IsPrint(r) }) {
		return b
	}
	var out bytes.Buffer
	out.Grow(len(b) + 16)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n == 1:
			out.WriteString(`\ufffd`)
		case r < utf8.RuneSelf-1 || unicode.IsPrint(r):
			out.Write(b[:n])
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&out, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&out, `\u%04x`, r)
		}
		b = b[n:]
	}
	return out.Bytes()
}

// emptyLists returns a copy of v in which every nil slice, in structs,
// pointers and slices at any depth, is an empty one. Byte slices (raw
// JSON, base64) and maps are left as they are.
func emptyLists(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(emptyLists(v.Elem()))
		return p
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := range out.NumField() {
			if f := out.Field(i); f.CanSet() {
				f.Set(emptyLists(f))
			}
		}
		return out
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v
		}
		if v.IsNil() {
			return reflect.MakeSlice(v.Type(), 0, 0)
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(emptyLists(v.Index(i)))
		}
		return out
	}
	return v
}
