package service

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPprofOptIn(t *testing.T) {
	tests := []struct {
		name   string
		listen string
	}{
		{"off by default", ""},
		{"on a loopback port", "127.0.0.1:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := newTestHub(t)
			th.cfg.Debug.PprofListen = tt.listen
			if err := th.startPprof(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(th.stopPprof)
			if tt.listen == "" {
				if th.pprofSrv != nil || th.pprofURL != "" {
					t.Fatalf("pprof served without debug.pprof_listen: %q", th.pprofURL)
				}
				return
			}
			c := &http.Client{Timeout: 10 * time.Second}
			resp, err := c.Get(th.pprofURL + "goroutine?debug=1")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "goroutine profile:") {
				t.Fatalf("GET goroutine profile: %d\n%.300s", resp.StatusCode, b)
			}
		})
	}
}
