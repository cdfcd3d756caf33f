package shared

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Encode sets m's type field and marshals it.
func Encode(m Message) ([]byte, error) {
	setType(m)
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.MessageType(), err)
	}
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("encode %s: %d bytes, limit %d", m.MessageType(), len(b), MaxMessageSize)
	}
	return b, nil
}

// MustEncode is Encode for messages that cannot fail to encode (no
// oversized fields); it panics otherwise, as a programming error.
func MustEncode(m Message) []byte {
	b, err := Encode(m)
	if err != nil {
		panic(err)
	}
	return b
}

func setType(m Message) {
	switch v := m.(type) {
	case *Hello:
		v.Type = TypeHello
	case *HelloReply:
		v.Type = TypeHelloReply
	case *CertRequest:
		v.Type = TypeCertRequest
	case *CertResult:
		v.Type = TypeCertResult
	case *FetchRequest:
		v.Type = TypeFetchRequest
	case *StatusReport:
		v.Type = TypeStatusReport
	case *Ack:
		v.Type = TypeAck
	case *RenewCommand:
		v.Type = TypeRenewCommand
	case *CredsUpdate:
		v.Type = TypeCredsUpdate
	case *ErrorReply:
		v.Type = TypeErrorReply
	}
}

// PeekType returns the "type" field of an encoded message without decoding
// the rest. It returns an *Error for anything that is not a JSON object
// with a string type.
func PeekType(data []byte) (string, error) {
	if len(data) > MaxMessageSize {
		return "", Errorf(CodeBadRequest, "message of %d bytes, limit %d", len(data), MaxMessageSize)
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return "", Errorf(CodeBadRequest, "malformed message: %v", err)
	}
	if head.Type == "" {
		return "", Errorf(CodeBadRequest, "message has no type")
	}
	return head.Type, nil
}

// Decode parses data into m and validates it. Every failure is an *Error
// with code bad_request or unsupported_version; m may be partly filled on
// failure and must then be discarded.
func Decode(data []byte, m Message) error {
	if len(data) > MaxMessageSize {
		return Errorf(CodeBadRequest, "message of %d bytes, limit %d", len(data), MaxMessageSize)
	}
	typ, err := PeekType(data)
	if err != nil {
		return err
	}
	if typ != m.MessageType() {
		return Errorf(CodeUnsupportedVersion, "message type %q: want %q", typ, m.MessageType())
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(m); err != nil {
		return Errorf(CodeBadRequest, "malformed %s: %v", typ, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Errorf(CodeBadRequest, "malformed %s: trailing data", typ)
	}
	return m.Validate()
}

// DecodeReply parses a reply that is either m or an ErrorReply. An
// ErrorReply comes back as its *Error.
func DecodeReply(data []byte, m Message) error {
	typ, err := PeekType(data)
	if err != nil {
		return err
	}
	if typ == TypeErrorReply {
		var er ErrorReply
		if err := Decode(data, &er); err != nil {
			return err
		}
		e := er.Error
		return &e
	}
	return Decode(data, m)
}

// ErrorBody encodes err as an ErrorReply. Errors that are not *Error are
// reported as internal with a generic message, so internals never leak.
func ErrorBody(err error) []byte {
	var pe *Error
	if !errors.As(err, &pe) {
		pe = &Error{Code: CodeInternal, Message: "internal error; see the hub's log"}
	}
	return MustEncode(&ErrorReply{Error: *pe})
}
