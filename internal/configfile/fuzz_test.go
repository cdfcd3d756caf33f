package configfile

import (
	"strings"
	"testing"
)

// FuzzDecode: no document panics the decoder or the line scanner; every
// problem has a kind and a message, and an unknown bare key's line holds
// that key's last part.
func FuzzDecode(f *testing.F) {
	for _, tt := range decodeCases {
		f.Add([]byte(tt.doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := strings.Split(string(data), "\n")
		for key, ls := range keyLines(string(data)) {
			for _, l := range ls {
				if l < 1 || l > len(lines) {
					t.Fatalf("key %q at line %d of %d", key, l, len(lines))
				}
			}
		}
		var v sample
		err := Decode(data, &v)
		if err == nil {
			return
		}
		if err.Error() == "" {
			t.Fatal("empty error message")
		}
		for _, fe := range FieldErrors(err) {
			if fe.Kind == nil || fe.Error() == "" {
				t.Fatalf("problem without a kind or message: %#v", fe)
			}
			if fe.Line < 0 || fe.Line > len(lines) {
				t.Fatalf("%v: line %d of %d", fe, fe.Line, len(lines))
			}
			if fe.Kind == ErrUnknownKey && fe.Line > 0 && bareDotted(fe.Field) {
				last := fe.Field[strings.LastIndexByte(fe.Field, '.')+1:]
				if !strings.Contains(lines[fe.Line-1], last) {
					t.Fatalf("%v: line %d is %q", fe, fe.Line, lines[fe.Line-1])
				}
			}
		}
	})
}

// bareDotted reports whether key is bare parts joined by dots (quoted
// parts are written escaped, so they need not appear as such in the line).
func bareDotted(key string) bool {
	for i := 0; i < len(key); i++ {
		if !isBare(key[i]) && key[i] != '.' {
			return false
		}
	}
	return key != ""
}
