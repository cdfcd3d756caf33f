package clitest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
)

// snakeCase is the form of every key in the binaries' JSON output.
var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// OneJSONValue decodes out as exactly one JSON value whose every object
// key is snake_case, and returns it; what names the command in failures.
func OneJSONValue(tb testing.TB, what, out string) any {
	tb.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var v any
	if err := dec.Decode(&v); err != nil {
		tb.Fatalf("%s: not JSON: %v\n%s", what, err, out)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		tb.Fatalf("%s: more than one JSON value (%v)\n%s", what, err, out)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if !snakeCase.MatchString(k) {
					tb.Errorf("%s: key %q at %s is not snake_case", what, k, path)
				}
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	walk("$", v)
	return v
}

// Field reads a dotted path ("agent.id", "agents.0.nkey") from a decoded
// JSON value; nil when there is nothing there.
func Field(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}
