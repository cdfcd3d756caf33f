package shared

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		msg  Message
		into Message
	}{
		{"hello", &Hello{AgentVersion: "0.1.0", Protocol: 1, Hostname: "web1"}, &Hello{}},
		{"cert request", &CertRequest{RequestID: "abcdefgh12", CertName: "web", CSR: "-----BEGIN CERTIFICATE REQUEST-----", Reason: ReasonNew, Created: now}, &CertRequest{}},
		{"issued result", &CertResult{RequestID: "abcdefgh12", CertName: "web", Status: StatusIssued, Chain: "pem", NotAfter: now}, &CertResult{}},
		{"failed result", &CertResult{RequestID: "abcdefgh12", CertName: "web", Status: StatusFailed, Error: Errorf(CodeNameNotAllowed, "x")}, &CertResult{}},
		{"fetch", &FetchRequest{RequestID: "abcdefgh12"}, &FetchRequest{}},
		{"status", &StatusReport{Certificates: []CertStatus{{Name: "web", Names: []string{"a.example.org"}}}}, &StatusReport{}},
		{"status with unmanaged", &StatusReport{Unmanaged: []UnmanagedCert{{Path: "/etc/ssl/a.pem", NotAfter: now, SHA256: strings.Repeat("ab", 32)}}, UnmanagedOmitted: 2}, &StatusReport{}},
		{"ack", &Ack{}, &Ack{}},
		{"renew", &RenewCommand{CertName: "web"}, &RenewCommand{}},
		{"creds", &CredsUpdate{JWT: "eyJ0"}, &CredsUpdate{}},
		{"error", &ErrorReply{Error: Error{Code: CodePending, Message: "wait"}}, &ErrorReply{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Encode(tt.msg)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !strings.Contains(string(b), tt.msg.MessageType()) {
				t.Fatalf("encoded %s lacks its type", b)
			}
			if err := Decode(b, tt.into); err != nil {
				t.Fatalf("Decode: %v", err)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name string
		data string
		code Code
	}{
		{"empty", ``, CodeBadRequest},
		{"not json", `hello`, CodeBadRequest},
		{"array", `[1,2]`, CodeBadRequest},
		{"no type", `{"request_id":"abcdefgh12"}`, CodeBadRequest},
		{"future version", `{"type":"io.certfleet.v2.cert_request"}`, CodeUnsupportedVersion},
		{"other type", `{"type":"io.certfleet.v1.hello","protocol":1}`, CodeUnsupportedVersion},
		{"trailing data", `{"type":"io.certfleet.v1.cert_request","request_id":"abcdefgh12","cert_name":"web","csr":"x"} {}`, CodeBadRequest},
		{"bad request id", `{"type":"io.certfleet.v1.cert_request","request_id":"a b","cert_name":"web","csr":"x"}`, CodeBadRequest},
		{"bad cert name", `{"type":"io.certfleet.v1.cert_request","request_id":"abcdefgh12","cert_name":"../x","csr":"x"}`, CodeBadRequest},
		{"missing csr", `{"type":"io.certfleet.v1.cert_request","request_id":"abcdefgh12","cert_name":"web"}`, CodeBadRequest},
		{"bad reason", `{"type":"io.certfleet.v1.cert_request","request_id":"abcdefgh12","cert_name":"web","csr":"x","reason":"why"}`, CodeBadRequest},
		{"wrong field type", `{"type":"io.certfleet.v1.cert_request","request_id":12}`, CodeBadRequest},
		{"oversized", `{"type":"io.certfleet.v1.cert_request","csr":"` + strings.Repeat("a", MaxMessageSize) + `"}`, CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m CertRequest
			err := Decode([]byte(tt.data), &m)
			if err == nil {
				t.Fatal("Decode accepted bad input")
			}
			if got := CodeOf(err); got != tt.code {
				t.Fatalf("code = %s, want %s (err %v)", got, tt.code, err)
			}
		})
	}
}

func TestStatusUnmanagedBounds(t *testing.T) {
	cases := []struct {
		name string
		rep  StatusReport
		ok   bool
	}{
		{"none", StatusReport{}, true},
		{"at the limit", StatusReport{Unmanaged: make([]UnmanagedCert, MaxUnmanaged)}, true},
		{"over the limit", StatusReport{Unmanaged: make([]UnmanagedCert, MaxUnmanaged+1)}, false},
		{"negative omitted", StatusReport{UnmanagedOmitted: -1}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Encode(&tc.rep)
			if err != nil {
				t.Fatal(err)
			}
			err = Decode(b, &StatusReport{})
			if (err == nil) != tc.ok || (err != nil && CodeOf(err) != CodeBadRequest) {
				t.Fatalf("Decode = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestDecodeReplyError(t *testing.T) {
	body := ErrorBody(Errorf(CodeNameNotAllowed, "www.example.org is not in the allow list"))
	var res CertResult
	err := DecodeReply(body, &res)
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != CodeNameNotAllowed {
		t.Fatalf("DecodeReply = %v, want name_not_allowed", err)
	}
	body = ErrorBody(errors.New("secret internal path /var/lib/x"))
	err = DecodeReply(body, &res)
	if CodeOf(err) != CodeInternal || strings.Contains(err.Error(), "/var/lib") {
		t.Fatalf("internal error leaked or wrong code: %v", err)
	}
}

func TestParseSubject(t *testing.T) {
	tests := []struct {
		subject       string
		id, dir, verb string
		ok            bool
	}{
		{Up("web1", VerbCertReq), "web1", "up", "certreq", true},
		{Down("db-2", VerbResult), "db-2", "down", "result", true},
		{"agent.web1.sideways.x", "", "", "", false},
		{"agent.WEB.up.x", "", "", "", false},
		{"agent.web1.up", "", "", "", false},
		{"other.web1.up.x", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.subject, func(t *testing.T) {
			id, dir, verb, ok := ParseSubject(tt.subject)
			if ok != tt.ok || id != tt.id || dir != tt.dir || verb != tt.verb {
				t.Fatalf("ParseSubject = %q %q %q %v", id, dir, verb, ok)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range []Message{
		&Hello{Protocol: 1}, &CertRequest{RequestID: "abcdefgh12", CertName: "web", CSR: "x"},
		&CertResult{RequestID: "abcdefgh12", Status: StatusIssued, Chain: "x"}, &FetchRequest{RequestID: "abcdefgh12"},
		&StatusReport{}, &ErrorReply{Error: Error{Code: CodeInternal}},
	} {
		f.Add(MustEncode(m))
	}
	f.Add([]byte(`{"type":"io.certfleet.v2.cert_request"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range []Message{&Hello{}, &CertRequest{}, &CertResult{}, &FetchRequest{}, &StatusReport{}, &RenewCommand{}, &CredsUpdate{}, &ErrorReply{}} {
			err := Decode(data, m)
			if err == nil {
				// Whatever decodes must validate and re-encode.
				if err := m.Validate(); err != nil {
					t.Fatalf("decoded message fails Validate: %v", err)
				}
				if _, err := Encode(m); err != nil {
					t.Fatalf("decoded message does not re-encode: %v", err)
				}
				continue
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Decode error is not *Error: %v", err)
			}
		}
	})
}
