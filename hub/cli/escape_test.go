package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/internal/cliusage"
	"github.com/certfleet/certfleet/shared"
)

// hostile are agent-supplied strings that try to take over a terminal.
var hostile = []string{
	"\x1b[2J\x1b[31mowned",           // ANSI clear screen, red
	"ok\rFAILED",                     // carriage return overwrites the line
	"line1\nAGENT  fake row",         // fakes a table row
	"tab\there",                      // shifts columns
	"\u202egnp.exe",                  // right-to-left override
	"c1 \u009b31m csi",               // C1 CSI
	"bell\a",                         // C0
	"bad utf8 \xff\xfe",              // undecodable
	"iso \u2066isolate\u2069 marks",  // bidi isolates
	"zero\u200bwidth\u200eltr\u2028", // format and separator characters
}

// terminalSafe reports whether out holds nothing but printable runes,
// spaces and the line breaks the printer itself writes.
func terminalSafe(tb testing.TB, out string) {
	tb.Helper()
	if !utf8.ValidString(out) {
		tb.Fatalf("invalid UTF-8 reached the terminal:\n%q", out)
	}
	for i, r := range out {
		if r == '\n' {
			continue
		}
		if !unicode.IsPrint(r) {
			tb.Fatalf("unsafe rune %U at byte %d reached the terminal:\n%q", r, i, out)
		}
	}
}

func TestSafe(t *testing.T) {
	for _, s := range []string{"www.example.org", "plain text: with punctuation (1/2) é ü 日本", ""} {
		if got := safe(s); got != s {
			t.Errorf("safe(%q) = %q, want it unchanged", s, got)
		}
	}
	for _, s := range hostile {
		got := safe(s)
		terminalSafe(t, got)
		if !strings.HasPrefix(got, `"`) {
			t.Errorf("safe(%q) = %q, want it quoted", s, got)
		}
	}
}

func FuzzSafe(f *testing.F) {
	for _, s := range append(hostile, "www.example.org", "é") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		terminalSafe(t, safe(s))
		terminalSafe(t, safeLines(s))
		b, err := json.Marshal(s)
		if err != nil {
			return
		}
		out := cliusage.SafeJSON(b)
		terminalSafe(t, string(out))
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("escaped JSON %q does not decode: %v", out, err)
		}
		var want string
		_ = json.Unmarshal(b, &want)
		if back != want {
			t.Fatalf("escaping changed the value: %q, want %q", back, want)
		}
	})
}

// hostileStatus is a fleet view whose agent-supplied fields are hostile.
func hostileStatus(now time.Time) admin.StatusReply {
	var certs []shared.CertStatus
	for i, h := range hostile {
		certs = append(certs, shared.CertStatus{Name: "c" + string(rune('a'+i)) + h, Names: []string{h + ".example.org"},
			NotAfter: now.Add(24 * time.Hour), LastResult: "failed", LastError: h})
	}
	return admin.StatusReply{
		Now:    now,
		Agents: []hub.Agent{{ID: "web1"}},
		Status: []hub.AgentStatus{{AgentID: "web1", LastSeen: now, Report: shared.StatusReport{
			AgentVersion: hostile[0], Hostname: hostile[1], Certificates: certs, Transport: hostile[0]}}},
		Requests: []hub.RequestState{{AgentID: "web1", CertName: "cb" + hostile[1], State: "retrying", LastError: hostile[2], Attempts: 2}},
		Alerts:   []admin.Alert{{Kind: "failing", Agent: "web1", CertName: hostile[4], Message: hostile[0]}},
		Damaged:  []hub.Damaged{{Store: "certfleet_status", Key: "evil", Error: "decode: invalid character '\\x1b' " + hostile[0]}},
	}
}

// TestStatusIsTerminalSafe: `status` escapes every agent-supplied field and
// lists damaged entries; the plain parts stay as they are.
func TestStatusIsTerminalSafe(t *testing.T) {
	now := time.Now()
	var out bytes.Buffer
	g := &globals{out: &out, errOut: &out}
	if err := printStatus(g, hostileStatus(now)); err != nil {
		t.Fatal(err)
	}
	terminalSafe(t, out.String())
	for _, want := range []string{`"\x1b[2J\x1b[31mowned"`, `"\u202egnp.exe"`, "web1", "damaged entry certfleet_status/evil: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// One row per certificate, no row faked by a line break.
	if rows := strings.Count(out.String(), "\nweb1 "); rows != len(hostile) {
		t.Errorf("%d table rows, want %d:\n%s", rows, len(hostile), out.String())
	}
}

func TestJSONIsTerminalSafe(t *testing.T) {
	var out bytes.Buffer
	g := &globals{out: &out, errOut: &out}
	rep := hostileStatus(time.Now())
	if err := printJSON(g, rep); err != nil {
		t.Fatal(err)
	}
	terminalSafe(t, out.String())
	var back admin.StatusReply
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Status[0].Report.Certificates[4].LastError != hostile[4] || len(back.Damaged) != 1 {
		t.Fatalf("JSON round trip lost data: %+v", back.Status[0].Report.Certificates[4])
	}
	if !strings.Contains(out.String(), `"damaged": [`) {
		t.Fatalf("no damaged field:\n%s", out.String())
	}
}

func TestAgentListIsTerminalSafe(t *testing.T) {
	var out bytes.Buffer
	g := &globals{out: &out, errOut: &out}
	rep := admin.AgentList{Agents: []hub.Agent{{ID: "web1", Allow: hostile}},
		Damaged: []hub.Damaged{{Store: "certfleet_agents", Key: "garbage", Error: "decode revision 3: invalid character"}}}
	if err := printAgents(g, rep, true); err != nil {
		t.Fatal(err)
	}
	terminalSafe(t, out.String())
	if !strings.Contains(out.String(), "damaged entry certfleet_agents/garbage: decode revision 3: invalid character\n") {
		t.Fatalf("damaged entry not shown:\n%s", out.String())
	}
}

// TestAuditIsTerminalSafe: hostile details are escaped, and an event the
// CLI cannot decode is one damaged line, not the end of the listing.
func TestAuditIsTerminalSafe(t *testing.T) {
	var out bytes.Buffer
	g := &globals{out: &out, errOut: &out}
	var evs []json.RawMessage
	for _, h := range hostile {
		b, _ := json.Marshal(map[string]any{"time": time.Now(), "kind": "refused", "agent": "web1", "cert_name": h, "detail": h})
		evs = append(evs, b)
	}
	evs = append(evs[:2:2], append([]json.RawMessage{json.RawMessage(`[1]`)}, evs[2:]...)...)
	printAudit(g, admin.AuditReply{Events: evs, Damaged: []hub.Damaged{{Store: "CERTFLEET_AUDIT", Key: "7", Error: "foreign event: unknown kind \"\\x1b\""}}})
	terminalSafe(t, out.String())
	if n := strings.Count(out.String(), " refused "); n != len(hostile) {
		t.Fatalf("%d events printed, want %d:\n%s", n, len(hostile), out.String())
	}
	for _, want := range []string{"damaged entry reply/2: ", "damaged entry CERTFLEET_AUDIT/7: "} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func BenchmarkSafePlain(b *testing.B) {
	for b.Loop() {
		_ = safe("www.example.org: order failed, will retry")
	}
}
