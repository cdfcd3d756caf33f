//go:build !windows

package install

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParsePID: any PID file content gives a process id above 1 that
// prints back as the trimmed content, or an error; never a panic.
func FuzzParsePID(f *testing.F) {
	for _, seed := range []string{"1234\n", "nginx\n", "1\n", "-5", "+7", " 42 ", strings.Repeat("1", 100), "", "0", "99999999999999999999"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pid, err := parsePID(data)
		if err != nil {
			return
		}
		if pid <= 1 || strconv.Itoa(pid) != strings.TrimLeft(strings.TrimSpace(string(data)), "0") {
			t.Fatalf("parsePID(%q) = %d", data, pid)
		}
	})
}
