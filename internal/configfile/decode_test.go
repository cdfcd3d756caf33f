package configfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// wait is a duration written as a string, as both configs' are.
type wait time.Duration

func (w *wait) UnmarshalText(b []byte) error {
	d, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration such as \"90s\": %w", err)
	}
	*w = wait(d)
	return nil
}

// sample has the shapes the real configs have: tables, an array of
// tables, an optional table behind a pointer, a text-decoded leaf.
type sample struct {
	Name  string   `toml:"name"`
	Notes string   `toml:"notes"`
	Wait  wait     `toml:"wait"`
	List  []string `toml:"records"`
	DNS   struct {
		Domain string `toml:"domain"`
		TTL    uint32 `toml:"txt_ttl"`
	} `toml:"dns"`
	CA []struct {
		Name      string `toml:"name"`
		Directory string `toml:"directory"`
	} `toml:"ca"`
	External *struct {
		URLs []string `toml:"urls"`
	} `toml:"external"`
	Hidden string `toml:"-"`
}

type wantErr struct {
	field string
	kind  error
	line  int
	text  string // a fragment of the message
}

// decodeCases are the table test's and seed the fuzzer.
var decodeCases = []struct {
	name string
	doc  string
	want []wantErr // nil: success
}{
	{"empty", "", nil},
	{"every key", "name = \"x\"\nnotes = \"\"\"\nmulti\n\"\"\"\nwait = \"90s\"\nrecords = [\"a\",\n  \"b\"]\n[dns]\ndomain = \"d\"\ntxt_ttl = 5\n" +
		"[[ca]]\nname = \"a\"\n[[ca]]\ndirectory = \"https://x\"\n[external]\nurls = []\n", nil},
	{"top-level typo", "nmae = \"x\"\n", []wantErr{{"nmae", ErrUnknownKey, 1, `did you mean "name"?`}}},
	{"typo in a table", "[dns]\n\ndomian = \"x\"\n", []wantErr{{"dns.domian", ErrUnknownKey, 3, `did you mean "dns.domain"?`}}},
	{"transposed letters", "[[ca]]\nname = \"a\"\n[[ca]]\nname = \"b\"\ndirectroy = \"https://x\"\n",
		[]wantErr{{"ca.directroy", ErrUnknownKey, 5, `did you mean "ca.directory"?`}}},
	{"same typo in two array tables", "[[ca]]\ndirectroy = \"a\"\n[[ca]]\n# comment\ndirectroy = \"b\"\n",
		[]wantErr{{"ca.directroy", ErrUnknownKey, 2, "ca.directory"}, {"ca.directroy", ErrUnknownKey, 5, "ca.directory"}}},
	{"key under the wrong table", "[dns]\nurls = []\n", []wantErr{{"dns.urls", ErrUnknownKey, 2, `did you mean "external.urls"?`}}},
	{"unknown table lists only the table", "[dsn]\ndomain = \"x\"\ntxt_ttl = 1\n", []wantErr{{"dsn", ErrUnknownKey, 1, `did you mean "dns"?`}}},
	{"dotted key", "name = \"x\"\ndns.domian = \"x\"\n", []wantErr{{"dns.domian", ErrUnknownKey, 2, "dns.domain"}}},
	{"quoted key", "[dns]\n\"do main\" = 1\n", []wantErr{{`dns."do main"`, ErrUnknownKey, 2, ""}}},
	{"no suggestion when nothing is close", "zzzzzz = 1\n", []wantErr{{"zzzzzz", ErrUnknownKey, 1, ""}}},
	{"key-like text in a multi-line string", "notes = \"\"\"\nfake = 1\n\"\"\"\nfake = 2\n", []wantErr{{"fake", ErrUnknownKey, 4, ""}}},
	{"key-like text in a literal multi-line string", "notes = '''\n[fake]\nfake = 1\n'''\nfake = 2\n", []wantErr{{"fake", ErrUnknownKey, 5, ""}}},
	{"nested array on its own line", "records = [\n  [ \"dns\" ],\n]\nrecrods = []\n", nil /* filled below: type error */},
	{"several", "foo = 1\n[dns]\nbar = 2\n", []wantErr{{"foo", ErrUnknownKey, 1, ""}, {"dns.bar", ErrUnknownKey, 3, ""}}},
	{"syntax error", "[dns\ndomain = 1\n", []wantErr{{"", ErrSyntax, 2, "table name"}}},
	{"type mismatch", "[dns]\ndomain = 5\n", []wantErr{{"dns.domain", ErrInvalid, 2, "incompatible types"}}},
	{"type mismatch in array table", "[[ca]]\nname = 1\n", []wantErr{{"ca.name", ErrInvalid, 2, "incompatible types"}}},
	{"out of range for the type", "[dns]\ntxt_ttl = -1\n", []wantErr{{"dns.txt_ttl", ErrInvalid, 2, "out of range"}}},
	{"text decoder error", "wait = \"soon\"\n", []wantErr{{"wait", ErrInvalid, 1, "want a duration"}}},
	{"defined twice", "name = \"a\"\nname = \"b\"\n", []wantErr{{"name", ErrSyntax, 2, "already been defined"}}},
	{"value cut off", "name = \n", []wantErr{{"name", ErrSyntax, 1, "expected value"}}},
	{"ignored field is unknown", "Hidden = \"x\"\n", []wantErr{{"Hidden", ErrUnknownKey, 1, ""}}},
}

func init() {
	// A nested array decodes into []string only if it is flat; the
	// case is here for the line scanner, so give it a flat list.
	for i := range decodeCases {
		if decodeCases[i].name == "nested array on its own line" {
			decodeCases[i].doc = "records = [\n  \"[ dns ]\",\n  \"x\" ]\n[dns]\ndomain = \"d\"\ndomian = 1\n"
			decodeCases[i].want = []wantErr{{"dns.domian", ErrUnknownKey, 6, "dns.domain"}}
		}
	}
}

func TestDecode(t *testing.T) {
	for _, tt := range decodeCases {
		t.Run(tt.name, func(t *testing.T) {
			var v sample
			err := Decode([]byte(tt.doc), &v)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Decode() = %v, want success", err)
				}
				return
			}
			got := FieldErrors(err)
			if len(got) != len(tt.want) {
				t.Fatalf("Decode() = %v (%d problems), want %d", err, len(got), len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Field != w.field || g.Kind != w.kind || g.Line != w.line || !strings.Contains(g.Error(), w.text) {
					t.Errorf("[%d] = %q (field %q, kind %v, line %d); want field %q, kind %v, line %d, text %q",
						i, g, g.Field, g.Kind, g.Line, w.field, w.kind, w.line, w.text)
				}
				if !errors.Is(err, w.kind) {
					t.Errorf("errors.Is(err, %v) = false", w.kind)
				}
			}
		})
	}
}

// TestDecodeManyUnknownKeys: a file that is not this program's config is
// reported with the first keys and a count, not one line per key.
func TestDecodeManyUnknownKeys(t *testing.T) {
	var b strings.Builder
	for i := range maxUnknown + 5 {
		fmt.Fprintf(&b, "key%d = %d\n", i, i)
	}
	var v sample
	err := Decode([]byte(b.String()), &v)
	fes := FieldErrors(err)
	if len(fes) != maxUnknown+1 || fes[maxUnknown-1].Field != fmt.Sprintf("key%d", maxUnknown-1) || fes[maxUnknown-1].Line != maxUnknown {
		t.Fatalf("Decode() = %v", err)
	}
	if last := fes[maxUnknown]; last.Error() != "unknown key: 5 more not listed" || !errors.Is(last, ErrUnknownKey) {
		t.Fatalf("last problem %q", last)
	}
}

// BenchmarkDecode: a file at the size cap of a few thousand array tables,
// with one typo (so the unknown-key path, line scan included, runs).
func BenchmarkDecode(b *testing.B) {
	var doc strings.Builder
	for i := 0; doc.Len() < MaxSize-200; i++ {
		fmt.Fprintf(&doc, "[[ca]]\nname = \"ca-%d\"\ndirectory = \"https://acme.example.org/%d/directory\"\n", i, i)
	}
	doc.WriteString("[dns]\ndomian = \"x\"\n")
	data := []byte(doc.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var v sample
		if err := Decode(data, &v); !errors.Is(err, ErrUnknownKey) {
			b.Fatal(err)
		}
	}
}

func TestDecodeKeepsDefaults(t *testing.T) {
	v := sample{Name: "default"}
	v.DNS.TTL = 7
	if err := Decode([]byte("[dns]\ndomain = \"d\"\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.Name != "default" || v.DNS.TTL != 7 || v.DNS.Domain != "d" {
		t.Fatalf("decoded %+v", v)
	}
}

func TestSizeCap(t *testing.T) {
	atLimit := []byte(strings.Repeat("#", MaxSize-1) + "\n")
	over := append(atLimit, '\n')
	tests := []struct {
		name string
		data []byte
		fail bool
	}{
		{"at the limit", atLimit, false},
		{"one byte over", over, true},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v sample
			err := Decode(tt.data, &v)
			if tt.fail != errors.Is(err, ErrTooLarge) || (!tt.fail && err != nil) {
				t.Fatalf("Decode(%d bytes) = %v", len(tt.data), err)
			}
			if tt.fail && !strings.Contains(err.Error(), "1 MiB") {
				t.Errorf("size error %q does not say the limit", err)
			}
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			data, err := ReadFile(path)
			if tt.fail != errors.Is(err, ErrTooLarge) || (!tt.fail && len(data) != len(tt.data)) {
				t.Fatalf("ReadFile(%d bytes) = %d bytes, %v", len(tt.data), len(data), err)
			}
			if tt.fail && !strings.Contains(err.Error(), path) {
				t.Errorf("ReadFile error %q does not name the file", err)
			}
		})
	}
}

func TestReadFileMissing(t *testing.T) {
	_, err := ReadFile(filepath.Join(t.TempDir(), "nope.toml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadFile(missing) = %v, want a not-exist error", err)
	}
}

func TestKnownKeys(t *testing.T) {
	got := knownKeys(&sample{})
	want := []string{"name", "notes", "wait", "records", "dns", "dns.domain", "dns.txt_ttl", "ca", "ca.name", "ca.directory", "external", "external.urls"}
	if !slices.Equal(got, want) {
		t.Fatalf("knownKeys = %v\nwant %v", got, want)
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "abc", 0}, {"datadir", "data_dir", 1}, {"directroy", "directory", 1},
		{"domian", "domain", 1}, {"concurency", "concurrency", 1}, {"abc", "", 3}, {"kitten", "sitting", 3},
	}
	for _, tt := range tests {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			if got := distance(tt.a, tt.b); got != tt.want {
				t.Fatalf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}
