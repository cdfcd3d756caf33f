package shared

import (
	"strings"
	"testing"
)

var subjectCases = []struct {
	name    string
	subject string
	id      string
	queue   bool // a requests stream subject
	ok      bool
}{
	{"hello", "agent.web1.up.hello", "web1", false, true},
	{"down", "agent.web1.down.reply", "web1", false, true},
	{"queue", "certfleet.queue.web1", "web1", true, true},
	{"layout-1 queue", "agent.web1.up.certreq", "web1", true, true},
	{"wildcard id", "agent.*.up.hello", "", false, false},
	{"dotted id", "agent.a.b.up.hello", "", false, false},
	{"upper case id", "agent.WEB.up.hello", "", false, false},
	{"queue with wildcard", "certfleet.queue.>", "", true, false},
	{"queue with dots", "certfleet.queue.a.b", "", true, false},
	{"other prefix", "$KV.certfleet_agents.web1", "", false, false},
	{"empty", "", "", false, false},
}

func TestParseSubjects(t *testing.T) {
	for _, tc := range subjectCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.queue {
				id, ok := ParseQueueSubject(tc.subject)
				if ok != tc.ok || (ok && id != tc.id) {
					t.Fatalf("ParseQueueSubject(%q) = %q, %v", tc.subject, id, ok)
				}
				return
			}
			id, _, _, ok := ParseSubject(tc.subject)
			if ok != tc.ok || (ok && id != tc.id) {
				t.Fatalf("ParseSubject(%q) = %q, %v", tc.subject, id, ok)
			}
		})
	}
}

var correlationCases = []struct {
	name string
	corr string
	ok   bool
}{
	{"hex", "0123456789abcdef01234567", true},
	{"mixed", "Ab_-9", true},
	{"empty", "", false},
	{"too long", strings.Repeat("a", 65), false},
	{"longest", strings.Repeat("a", 64), true},
	{"dot", "a.b", false},
	{"wildcard", "*", false},
	{"space", "a b", false},
	{"newline", "a\nb", false},
	{"non-ASCII", "aé", false},
}

func TestValidateCorrelation(t *testing.T) {
	for _, tc := range correlationCases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateCorrelation(tc.corr)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidateCorrelation(%q) = %v", tc.corr, err)
			}
			if err != nil && CodeOf(err) != CodeBadRequest {
				t.Fatalf("code %s", CodeOf(err))
			}
		})
	}
}

// FuzzParseSubjects: whatever a subject holds, an accepted agent id is a
// valid single token, and the subject is rebuilt from it exactly.
func FuzzParseSubjects(f *testing.F) {
	for _, tc := range subjectCases {
		f.Add(tc.subject)
	}
	f.Fuzz(func(t *testing.T, subject string) {
		if id, dir, verb, ok := ParseSubject(subject); ok {
			if ValidateAgentID(id) != nil {
				t.Fatalf("accepted id %q", id)
			}
			if rebuilt := SubjectPrefix + "." + id + "." + dir + "." + verb; rebuilt != subject {
				t.Fatalf("%q parsed as %q", subject, rebuilt)
			}
		}
		if id, ok := ParseQueueSubject(subject); ok {
			if ValidateAgentID(id) != nil {
				t.Fatalf("accepted queue id %q", id)
			}
			if subject != QueueSubject(id) && subject != Up(id, VerbCertReq) {
				t.Fatalf("%q accepted as the queue of %q", subject, id)
			}
		}
	})
}

// FuzzValidateCorrelation: an accepted correlation id is a plain token
// that cannot change a subject or a header.
func FuzzValidateCorrelation(f *testing.F) {
	for _, tc := range correlationCases {
		f.Add(tc.corr)
	}
	f.Fuzz(func(t *testing.T, c string) {
		if ValidateCorrelation(c) != nil {
			return
		}
		if len(c) == 0 || len(c) > 64 || strings.ContainsAny(c, ".*> \t\r\n:") {
			t.Fatalf("accepted %q", c)
		}
	})
}
