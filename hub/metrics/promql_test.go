package metrics

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The monitoring tests read the PromQL of packaging/monitoring with this
// small scanner: it finds the series selectors (metric name and label
// matchers) and the label lists of by/without/on/ignoring/group_left/
// group_right, which is all they check. It is not a PromQL parser (that
// is the promtool check, when promtool is installed), but it refuses
// what it cannot read (unbalanced brackets, a broken matcher), so a
// change it does not understand fails the test instead of passing it
// unchecked.

type promSelector struct {
	name     string
	matchers []promMatcher
}

type promMatcher struct{ label, op, value string }

type promRefs struct {
	selectors []promSelector
	// grouping are the label names of by(...), without(...), on(...),
	// ignoring(...), group_left(...) and group_right(...).
	grouping []string
}

// names are the metric names the expression selects.
func (r promRefs) names() []string {
	var out []string
	for _, s := range r.selectors {
		if s.name != "" && !slices.Contains(out, s.name) {
			out = append(out, s.name)
		}
	}
	return out
}

// promKeywords are words that are not metric names where a name could
// stand: binary operators and modifiers, aggregation operators (before
// a by/without clause), and the float literals.
var promKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true, "inf": true, "nan": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true, "count": true,
	"count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true,
}

// promGrouping are the keywords followed by a list of label names.
var promGrouping = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdent(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func skipSpace(s string, i int) int {
	for i < len(s) && strings.ContainsRune(" \t\r\n", rune(s[i])) {
		i++
	}
	return i
}

func scanIdent(s string, i int) int {
	for i < len(s) && isIdent(s[i]) {
		i++
	}
	return i
}

// scanString reads the string literal at s[i] and returns its value and
// the index after it.
func scanString(s string, i int) (string, int, error) {
	q := s[i]
	j := i + 1
	for j < len(s) && s[j] != q {
		if s[j] == '\\' && q != '`' {
			j++
		}
		j++
	}
	if j >= len(s) {
		return "", 0, fmt.Errorf("unterminated string at %d", i)
	}
	raw := s[i : j+1]
	if q == '\'' {
		// PromQL's single quotes escape like double quotes.
		inner := strings.ReplaceAll(raw[1:len(raw)-1], `\'`, `'`)
		raw = `"` + strings.ReplaceAll(inner, `"`, `\"`) + `"`
	}
	v, err := strconv.Unquote(raw)
	if err != nil {
		return "", 0, fmt.Errorf("string at %d: %w", i, err)
	}
	return v, j + 1, nil
}

// scanMatchers reads the label matchers in braces at s[i].
func scanMatchers(s string, i int) ([]promMatcher, int, error) {
	var out []promMatcher
	i++
	for {
		i = skipSpace(s, i)
		if i < len(s) && s[i] == '}' {
			return out, i + 1, nil
		}
		if i >= len(s) || !isIdentStart(s[i]) {
			return nil, 0, fmt.Errorf("label name expected at %d", i)
		}
		j := scanIdent(s, i)
		m := promMatcher{label: s[i:j]}
		i = skipSpace(s, j)
		for _, op := range []string{"=~", "!~", "!=", "="} {
			if strings.HasPrefix(s[i:], op) {
				m.op = op
				break
			}
		}
		if m.op == "" {
			return nil, 0, fmt.Errorf("matcher operator expected at %d", i)
		}
		i = skipSpace(s, i+len(m.op))
		if i >= len(s) || !strings.ContainsRune("\"'`", rune(s[i])) {
			return nil, 0, fmt.Errorf("matcher value expected at %d", i)
		}
		v, j, err := scanString(s, i)
		if err != nil {
			return nil, 0, err
		}
		m.value = v
		out = append(out, m)
		i = skipSpace(s, j)
		if i < len(s) && s[i] == ',' {
			i++
		}
	}
}

// scanLabelList reads the label names in parentheses at s[i].
func scanLabelList(s string, i int) ([]string, int, error) {
	var out []string
	i++
	for {
		i = skipSpace(s, i)
		switch {
		case i >= len(s):
			return nil, 0, fmt.Errorf("unterminated label list")
		case s[i] == ')':
			return out, i + 1, nil
		case s[i] == ',':
			i++
		case isIdentStart(s[i]):
			j := scanIdent(s, i)
			out = append(out, s[i:j])
			i = j
		default:
			return nil, 0, fmt.Errorf("label name expected at %d", i)
		}
	}
}

// parsePromQL finds the selectors and grouping labels of expr.
func parsePromQL(expr string) (promRefs, error) {
	var r promRefs
	depth := 0
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case strings.ContainsRune(" \t\r\n", rune(c)):
			i++
		case c == '"' || c == '\'' || c == '`':
			_, j, err := scanString(expr, i)
			if err != nil {
				return r, err
			}
			i = j
		case c == '[':
			// A range or subquery: durations and Grafana's
			// $__rate_interval, no names.
			j := strings.IndexByte(expr[i:], ']')
			if j < 0 {
				return r, fmt.Errorf("unterminated range at %d", i)
			}
			i += j + 1
		case c == '{':
			ms, j, err := scanMatchers(expr, i)
			if err != nil {
				return r, err
			}
			sel := promSelector{matchers: ms}
			for _, m := range ms {
				if m.label == "__name__" && m.op == "=" {
					sel.name = m.value
				}
			}
			r.selectors = append(r.selectors, sel)
			i = j
		case c == ']' || c == '}':
			return r, fmt.Errorf("unbalanced %q at %d", c, i)
		case c == '(':
			depth++
			i++
		case c == ')':
			if depth--; depth < 0 {
				return r, fmt.Errorf("unbalanced ')' at %d", i)
			}
			i++
		case c == '$':
			// A Grafana variable: $name or ${name}.
			if i+1 < len(expr) && expr[i+1] == '{' {
				j := strings.IndexByte(expr[i:], '}')
				if j < 0 {
					return r, fmt.Errorf("unterminated variable at %d", i)
				}
				i += j + 1
			} else {
				i = scanIdent(expr, i+1)
			}
		case c >= '0' && c <= '9' || c == '.':
			// A number or duration (5m, 1e3, 0x1f, 1.5e-3).
			j := i + 1
			for j < len(expr) && (isIdent(expr[j]) || expr[j] == '.' ||
				(strings.ContainsRune("+-", rune(expr[j])) && strings.ContainsRune("eE", rune(expr[j-1])))) {
				j++
			}
			i = j
		case isIdentStart(c):
			j := scanIdent(expr, i)
			word := expr[i:j]
			k := skipSpace(expr, j)
			paren := k < len(expr) && expr[k] == '('
			switch {
			case promGrouping[word] && paren:
				labels, end, err := scanLabelList(expr, k)
				if err != nil {
					return r, err
				}
				r.grouping = append(r.grouping, labels...)
				i = end
			case paren, promKeywords[word], promGrouping[word]:
				// A function or aggregation (its arguments follow), an
				// operator, or group_left without labels.
				i = j
			default:
				sel := promSelector{name: word}
				i = j
				if k < len(expr) && expr[k] == '{' {
					ms, end, err := scanMatchers(expr, k)
					if err != nil {
						return r, err
					}
					sel.matchers, i = ms, end
				}
				r.selectors = append(r.selectors, sel)
			}
		default:
			// Operators, commas, '@'.
			i++
		}
	}
	if depth != 0 {
		return r, fmt.Errorf("unbalanced '('")
	}
	return r, nil
}

func TestParsePromQL(t *testing.T) {
	cases := []struct {
		name     string
		expr     string
		want     []string // selectors as name{label op value,...}
		grouping []string
		err      bool
	}{
		{name: "bare name", expr: "certfleet_queue_depth", want: []string{"certfleet_queue_depth"}},
		{name: "function and Grafana range", expr: "rate(certfleet_orders_total[$__rate_interval])", want: []string{"certfleet_orders_total"}},
		{name: "aggregation with by before", expr: "sum by (ca, result) (rate(x_total[5m]))", want: []string{"x_total"}, grouping: []string{"ca", "result"}},
		{name: "aggregation with by after", expr: "histogram_quantile(0.95, sum(rate(d_bucket[5m])) by (le))", want: []string{"d_bucket"}, grouping: []string{"le"}},
		{name: "aggregation without", expr: "sum without (instance) (x)", want: []string{"x"}, grouping: []string{"instance"}},
		{name: "matchers, braces in strings", expr: `x{result!="is}sued", a=~'b|c'} > 0 and y{s="v"} == 0`,
			want: []string{`x{result!="is}sued",a=~"b|c"}`, `y{s="v"}`}},
		{name: "vector matching", expr: "a * on(instance) group_left(version) b", want: []string{"a", "b"}, grouping: []string{"instance", "version"}},
		{name: "group_left without labels", expr: "a * on(instance) group_left b", want: []string{"a", "b"}, grouping: []string{"instance"}},
		{name: "numbers and keywords", expr: "x < 14 * 86400 or y > bool 1e+3 unless z offset 5m", want: []string{"x", "y", "z"}},
		{name: "subquery", expr: "max_over_time(x[1h:5m]) > 0", want: []string{"x"}},
		{name: "function without arguments", expr: "time() - x", want: []string{"x"}},
		{name: "strings are not names", expr: `label_replace(x, "dst", "$1", "src", "(.*)")`, want: []string{"x"}},
		{name: "name in braces", expr: `{__name__="x", a="b"}`, want: []string{`x{__name__="x",a="b"}`}},
		{name: "unbalanced parenthesis", expr: "rate(x[5m]", err: true},
		{name: "unterminated range", expr: "rate(x[5m)", err: true},
		{name: "broken matcher", expr: `x{state}`, err: true},
		{name: "unterminated string", expr: `x{state="valid}`, err: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parsePromQL(tc.expr)
			if tc.err {
				if err == nil {
					t.Fatalf("no error for %q", tc.expr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range r.selectors {
				str := s.name
				if len(s.matchers) > 0 {
					var ms []string
					for _, m := range s.matchers {
						ms = append(ms, m.label+m.op+strconv.Quote(m.value))
					}
					str += "{" + strings.Join(ms, ",") + "}"
				}
				got = append(got, str)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("selectors %q, want %q", got, tc.want)
			}
			if !slices.Equal(r.grouping, tc.grouping) {
				t.Errorf("grouping %q, want %q", r.grouping, tc.grouping)
			}
		})
	}
}
