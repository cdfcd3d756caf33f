package alarm

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is a local HTTP endpoint answering with the given statuses in
// turn (then 200) and keeping what it received.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	bodies   [][]byte
	sigs     []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies = append(r.bodies, b)
	r.sigs = append(r.sigs, req.Header.Get(SignatureHeader))
	code := http.StatusOK
	if len(r.statuses) > 0 {
		code, r.statuses = r.statuses[0], r.statuses[1:]
	}
	w.WriteHeader(code)
}

func (r *receiver) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func TestWebhook(t *testing.T) {
	cases := []struct {
		name      string
		statuses  []int
		wantErr   string
		wantCalls int
	}{
		{"delivered", nil, "", 1},
		{"retried after server errors", []int{500, 503}, "", 3},
		{"retried after 429", []int{429}, "", 2},
		{"refusal not retried", []int{400}, "400 Bad Request", 1},
		{"gives up after the attempts", []int{500, 500, 500, 500}, "attempt 3 of 3", 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rcv := &receiver{statuses: tc.statuses}
			srv := httptest.NewServer(rcv)
			defer srv.Close()
			w := &Webhook{URL: srv.URL, Secret: "hook-secret", Attempts: 3, Backoff: time.Millisecond}
			err := w.Send(context.Background(), testEvent())
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if rcv.calls() != tc.wantCalls {
				t.Fatalf("%d calls, want %d", rcv.calls(), tc.wantCalls)
			}
			for i, b := range rcv.bodies {
				if !Verify("hook-secret", b, rcv.sigs[i]) {
					t.Errorf("call %d: signature %q does not verify", i, rcv.sigs[i])
				}
				if Verify("other", b, rcv.sigs[i]) {
					t.Error("signature verifies under another secret")
				}
				var ev Event
				if err := json.Unmarshal(b, &ev); err != nil || ev.State != StateRaised || ev.Condition.Agent != "web1" {
					t.Errorf("body %s: %v", b, err)
				}
			}
		})
	}
}
