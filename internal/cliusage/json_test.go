package cliusage

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestPrintJSONEmptyLists: nil lists print as [], at any depth; omitempty
// fields stay out; raw JSON, times and maps are untouched; the value
// printed from is not changed.
func TestPrintJSONEmptyLists(t *testing.T) {
	type inner struct {
		Names []string `json:"names"`
	}
	type outer struct {
		List     []string          `json:"list"`
		Omitted  []string          `json:"omitted,omitempty"`
		Inner    inner             `json:"inner"`
		Ptr      *inner            `json:"ptr"`
		NilPtr   *inner            `json:"nil_ptr"`
		Items    []inner           `json:"items"`
		Raw      []json.RawMessage `json:"raw"`
		Bytes    []byte            `json:"bytes"`
		Map      map[string]int    `json:"map"`
		When     time.Time         `json:"when"`
		private  []string
		Existing []string `json:"existing"`
	}
	in := outer{Ptr: &inner{}, Items: []inner{{}}, Raw: []json.RawMessage{json.RawMessage(`{"a":1}`)},
		When: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), Existing: []string{"x"}}
	var out bytes.Buffer
	if err := PrintJSON(&out, in); err != nil {
		t.Fatal(err)
	}
	want := `{"list":[],"inner":{"names":[]},"ptr":{"names":[]},"nil_ptr":null,"items":[{"names":[]}],` +
		`"raw":[{"a":1}],"bytes":null,"map":null,"when":"2026-12-02T00:00:00Z","existing":["x"]}`
	var compact bytes.Buffer
	if err := json.Compact(&compact, out.Bytes()); err != nil {
		t.Fatal(err)
	}
	if compact.String() != want {
		t.Errorf("got  %s\nwant %s", compact.String(), want)
	}
	if in.List != nil || in.Ptr.Names != nil || in.Items[0].Names != nil {
		t.Error("PrintJSON changed the value it printed")
	}
	if !strings.HasSuffix(out.String(), "}\n") {
		t.Errorf("output %q does not end in one newline", out.String())
	}
}
