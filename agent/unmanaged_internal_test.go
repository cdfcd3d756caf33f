package agent

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/shared"
)

// TestFitReport: a report whose unmanaged list would not fit in one
// message loses the entries expiring last, counted as omitted.
func TestFitReport(t *testing.T) {
	cases := []struct {
		name    string
		entries int
		fill    int // bytes of path and names per entry
		dropped bool
	}{
		{"small list kept whole", 10, 100, false},
		{"oversize list cut", shared.MaxUnmanaged, 4000, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := &shared.StatusReport{AgentVersion: "test", UnmanagedOmitted: 3}
			t0 := time.Now()
			for i := range tc.entries {
				rep.Unmanaged = append(rep.Unmanaged, shared.UnmanagedCert{
					Path: fmt.Sprintf("/etc/ssl/%03d-%s.pem", i, strings.Repeat("p", tc.fill/2)), Subject: strings.Repeat("s", tc.fill/2),
					NotAfter: t0.Add(time.Duration(i) * time.Hour), SHA256: strings.Repeat("a", 64),
				})
			}
			fitReport(rep)
			b, err := shared.Encode(rep)
			if err != nil || len(b) > shared.MaxMessageSize {
				t.Fatalf("report of %d bytes does not fit: %v", len(b), err)
			}
			kept := len(rep.Unmanaged)
			if got := rep.UnmanagedOmitted - 3; got != tc.entries-kept {
				t.Fatalf("kept %d of %d, omitted %d more", kept, tc.entries, got)
			}
			if (kept < tc.entries) != tc.dropped || kept == 0 {
				t.Fatalf("kept %d of %d", kept, tc.entries)
			}
			for i, u := range rep.Unmanaged {
				if !u.NotAfter.Equal(t0.Add(time.Duration(i) * time.Hour)) {
					t.Fatalf("entry %d is not the %dth soonest", i, i)
				}
			}
		})
	}
}
