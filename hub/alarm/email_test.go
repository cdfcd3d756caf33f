package alarm

import (
	"context"
	"strings"
	"testing"
	"time"
)

func testEvent() Event {
	return Event{Channel: "ops", State: StateRaised, Hub: "acme.example.test", Time: time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC),
		Condition: Condition{Kind: KindExpiring, Agent: "web1", Cert: "web", Message: "certificate web on web1 expires soon"}}
}

// TestEmailSTARTTLSAuth sends through a real SMTP server that offers
// STARTTLS and requires PLAIN auth.
func TestEmailSTARTTLSAuth(t *testing.T) {
	cert, pool := selfSigned(t)
	srv := startSMTP(t, &cert, "hub", "s3cret")
	e := &Email{Addr: srv.Addr, Username: "hub", Password: "s3cret", From: "certfleet@example.test",
		To: []string{"ops@example.test", "oncall@example.test"}, RootCAs: pool}
	if err := e.Send(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	ms := srv.Mails()
	if len(ms) != 1 {
		t.Fatalf("%d mails, want 1", len(ms))
	}
	m := ms[0]
	if !m.TLS || m.User != "hub" || m.From != "certfleet@example.test" || len(m.To) != 2 {
		t.Errorf("mail envelope %+v", m)
	}
	for _, want := range []string{"Subject: [certfleet] raised: expiring web1/web\r\n", "certificate web on web1 expires soon\r\n", "Agent:   web1\r\n"} {
		if !strings.Contains(m.Data, want) {
			t.Errorf("message lacks %q:\n%s", want, m.Data)
		}
	}
}

func TestEmailRefusals(t *testing.T) {
	cert, pool := selfSigned(t)
	_, otherPool := selfSigned(t)
	tlsSrv := startSMTP(t, &cert, "hub", "s3cret")
	plainSrv := startSMTP(t, nil, "", "")
	cases := []struct {
		name string
		e    Email
		want string
	}{
		{"no STARTTLS", Email{Addr: plainSrv.Addr}, "does not offer STARTTLS"},
		{"untrusted certificate", Email{Addr: tlsSrv.Addr, RootCAs: otherPool}, "starttls"},
		{"wrong password", Email{Addr: tlsSrv.Addr, RootCAs: pool, Username: "hub", Password: "nope"}, "auth"},
		{"no auth where required", Email{Addr: tlsSrv.Addr, RootCAs: pool}, "mail from"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.e.From, tc.e.To = "certfleet@example.test", []string{"ops@example.test"}
			err := tc.e.Send(context.Background(), testEvent())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
	// A trusted local relay without TLS, when allowed.
	e := &Email{Addr: plainSrv.Addr, Insecure: true, From: "certfleet@example.test", To: []string{"ops@example.test"}}
	if err := e.Send(context.Background(), testEvent()); err != nil {
		t.Fatalf("insecure relay: %v", err)
	}
	if n := len(plainSrv.Mails()); n != 1 {
		t.Fatalf("relay got %d mails, want 1", n)
	}
}

// TestEmailHeaderInjection: a condition field with CR LF must not add a
// header.
func TestEmailHeaderInjection(t *testing.T) {
	ev := testEvent()
	ev.Condition.Cert = "web\r\nBcc: victim@example.test"
	msg := string((&Email{From: "a@example.test", To: []string{"b@example.test"}}).message(ev))
	head, _, _ := strings.Cut(msg, "\r\n\r\n")
	if strings.Contains(head, "\r\nBcc:") {
		t.Fatalf("header injected:\n%s", head)
	}
}
