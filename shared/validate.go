package shared

import "regexp"

// Limits on message contents. A message past them is rejected whole.
const (
	// MaxMessageSize bounds every encoded message.
	MaxMessageSize = 256 << 10
	// MaxNames bounds the names in one certificate (Let's Encrypt allows 100).
	MaxNames = 100
	// MaxCSRSize bounds a PEM CSR.
	MaxCSRSize = 64 << 10
	// MaxChainSize bounds a PEM chain.
	MaxChainSize = 128 << 10
	// MaxUnmanaged bounds the unmanaged certificates in one status report;
	// MaxUnmanagedSANs the names listed per certificate. The other
	// fields of an UnmanagedCert are bounded by the Max*Len below; a
	// receiver cuts what is longer.
	MaxUnmanaged     = 100
	MaxUnmanagedSANs = 20
	// MaxPathLen bounds a file path, MaxDNLen a distinguished name,
	// MaxSerialLen a hex serial.
	MaxPathLen   = 1024
	MaxDNLen     = 512
	MaxSerialLen = 128
)

var (
	requestIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)
	certNameRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	profileRe   = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

// ValidateRequestID checks a request id: 8 to 64 of [A-Za-z0-9_-], usable
// as a KV key token and a Nats-Msg-Id.
func ValidateRequestID(id string) error {
	if !requestIDRe.MatchString(id) {
		return Errorf(CodeBadRequest, "request_id %q: want 8-64 characters of [A-Za-z0-9_-]", id)
	}
	return nil
}

// ValidateCertName checks the name of a certificate block.
func ValidateCertName(name string) error {
	if !certNameRe.MatchString(name) {
		return Errorf(CodeBadRequest, "cert_name %q: want 1-63 characters of [A-Za-z0-9_.-], starting with a letter or digit", name)
	}
	return nil
}

func checkType(got, want string) error {
	if got != want {
		return Errorf(CodeUnsupportedVersion, "type %q: want %q", got, want)
	}
	return nil
}

func (m *Hello) Validate() error {
	if err := checkType(m.Type, TypeHello); err != nil {
		return err
	}
	if m.Protocol < 1 {
		return Errorf(CodeBadRequest, "protocol %d: want >= 1", m.Protocol)
	}
	return nil
}

func (m *HelloReply) Validate() error { return checkType(m.Type, TypeHelloReply) }

func (m *CertRequest) Validate() error {
	if err := checkType(m.Type, TypeCertRequest); err != nil {
		return err
	}
	if err := ValidateRequestID(m.RequestID); err != nil {
		return err
	}
	if err := ValidateCertName(m.CertName); err != nil {
		return err
	}
	if m.CSR == "" {
		return Errorf(CodeBadRequest, "csr: missing")
	}
	if len(m.CSR) > MaxCSRSize {
		return Errorf(CodeBadRequest, "csr: %d bytes, limit %d", len(m.CSR), MaxCSRSize)
	}
	if m.Profile != "" && !profileRe.MatchString(m.Profile) {
		return Errorf(CodeBadRequest, "profile %q: want 1-64 characters of [A-Za-z0-9_.-]", m.Profile)
	}
	switch m.Reason {
	case "", ReasonNew, ReasonRenew, ReasonNamesChanged, ReasonManual:
	default:
		return Errorf(CodeBadRequest, "reason %q: unknown", m.Reason)
	}
	return nil
}

func (m *CertResult) Validate() error {
	if err := checkType(m.Type, TypeCertResult); err != nil {
		return err
	}
	if err := ValidateRequestID(m.RequestID); err != nil {
		return err
	}
	switch m.Status {
	case StatusIssued:
		if m.Chain == "" {
			return Errorf(CodeBadRequest, "chain: missing on an issued result")
		}
		if len(m.Chain) > MaxChainSize {
			return Errorf(CodeBadRequest, "chain: %d bytes, limit %d", len(m.Chain), MaxChainSize)
		}
	case StatusFailed:
		if m.Error == nil {
			return Errorf(CodeBadRequest, "error: missing on a failed result")
		}
	default:
		return Errorf(CodeBadRequest, "status %q: want %q or %q", m.Status, StatusIssued, StatusFailed)
	}
	return nil
}

func (m *FetchRequest) Validate() error {
	if err := checkType(m.Type, TypeFetchRequest); err != nil {
		return err
	}
	return ValidateRequestID(m.RequestID)
}

func (m *StatusReport) Validate() error {
	if err := checkType(m.Type, TypeStatusReport); err != nil {
		return err
	}
	if len(m.Certificates) > 1000 {
		return Errorf(CodeBadRequest, "certificates: %d entries, limit 1000", len(m.Certificates))
	}
	for i, c := range m.Certificates {
		if err := ValidateCertName(c.Name); err != nil {
			return Errorf(CodeBadRequest, "certificates[%d]: %s", i, err.(*Error).Message)
		}
		if len(c.Names) > MaxNames {
			return Errorf(CodeBadRequest, "certificates[%d].names: %d, limit %d", i, len(c.Names), MaxNames)
		}
	}
	if len(m.Unmanaged) > MaxUnmanaged {
		return Errorf(CodeBadRequest, "unmanaged: %d entries, limit %d", len(m.Unmanaged), MaxUnmanaged)
	}
	if m.UnmanagedOmitted < 0 {
		return Errorf(CodeBadRequest, "unmanaged_omitted: %d is negative", m.UnmanagedOmitted)
	}
	return nil
}

func (m *Ack) Validate() error { return checkType(m.Type, TypeAck) }

func (m *RenewCommand) Validate() error {
	if err := checkType(m.Type, TypeRenewCommand); err != nil {
		return err
	}
	if m.CertName != "" {
		return ValidateCertName(m.CertName)
	}
	return nil
}

func (m *CredsUpdate) Validate() error {
	if err := checkType(m.Type, TypeCredsUpdate); err != nil {
		return err
	}
	if m.JWT == "" || len(m.JWT) > 16<<10 {
		return Errorf(CodeBadRequest, "jwt: missing or over 16 KiB")
	}
	return nil
}

func (m *ErrorReply) Validate() error {
	if err := checkType(m.Type, TypeErrorReply); err != nil {
		return err
	}
	if m.Error.Code == "" {
		return Errorf(CodeBadRequest, "error.code: missing")
	}
	return nil
}
