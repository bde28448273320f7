package probe

// This file speaks just enough of the PostgreSQL frontend/backend protocol
// (version 3.0; PostgreSQL documentation, "Frontend/Backend Protocol",
// "Message Formats") to learn that a server is PostgreSQL: the SSLRequest,
// the StartupMessage, and the server's replies to it up to the first
// authentication request, error or ReadyForQuery.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// PostgresInfo is what a PostgreSQL server said.
type PostgresInfo struct {
	// SSL is true when the server answered 'S' to the SSLRequest: it
	// would speak TLS on this port.
	SSL bool `json:"ssl"`
	// Auth is how the server wants the probe's user (postgres) to
	// authenticate: "trust" (no password asked), "password", "md5",
	// "sasl" (then Mechanisms lists them, "SCRAM-SHA-256"), "gss",
	// "sspi", "kerberos"; empty when it answered with an error instead.
	Auth       string   `json:"auth,omitempty"`
	Mechanisms []string `json:"sasl_mechanisms,omitempty"`
	// Version is the server_version parameter, known only when no
	// password was asked ("15.18 (Debian 15.18-0+deb12u1)").
	Version string `json:"version,omitempty"`
	// Error is the server's error, "FATAL 28000: no pg_hba.conf entry
	// for host ...": the server refused the connection.
	Error string `json:"error,omitempty"`
}

// sslRequest is the 8-byte SSLRequest: length 8, code 80877103.
var sslRequest = []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}

// terminate is the Terminate message.
var terminate = []byte{'X', 0, 0, 0, 4}

// startupMessage is a protocol 3.0 StartupMessage for user and database
// postgres, naming the probe in application_name.
func startupMessage() []byte {
	var params []byte
	for _, kv := range [][2]string{{"user", "postgres"}, {"database", "postgres"}, {"application_name", "whobinds-probe"}} {
		params = append(params, kv[0]...)
		params = append(params, 0)
		params = append(params, kv[1]...)
		params = append(params, 0)
	}
	params = append(params, 0)
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(params)))
	b = binary.BigEndian.AppendUint32(b, 3<<16) // protocol 3.0
	return append(b, params...)
}

// pgMaxMessage bounds one backend message; the replies the probe reads
// (errors, authentication requests, parameters) are small.
const pgMaxMessage = 8192

var errNotPostgres = errors.New("not a PostgreSQL reply")

// pgReply is the decoded start of a server's answer to a StartupMessage.
type pgReply struct {
	info PostgresInfo
	// done is true when the answer is complete for the probe's purpose:
	// an error, an authentication request other than ok, or
	// ReadyForQuery.
	done bool
	// authOK is true when the server accepted the user without a
	// password.
	authOK bool
}

// parsePostgres decodes the backend messages in b that answer a
// StartupMessage. It returns io.ErrUnexpectedEOF when b ends inside a
// message or before the answer is complete, and an error wrapping
// errNotPostgres when b is not such an answer.
func parsePostgres(b []byte) (pgReply, error) {
	var r pgReply
	first := true
	for !r.done {
		if len(b) == 0 {
			return r, io.ErrUnexpectedEOF
		}
		typ := b[0]
		if first && typ != 'R' && typ != 'E' && typ != 'v' && typ != 'N' {
			return r, fmt.Errorf("%w: message type %q", errNotPostgres, typ)
		}
		first = false
		if len(b) < 5 {
			return r, io.ErrUnexpectedEOF
		}
		n := binary.BigEndian.Uint32(b[1:5])
		if n < 4 || n > pgMaxMessage {
			return r, fmt.Errorf("%w: message %q of length %d", errNotPostgres, typ, n)
		}
		if uint32(len(b)-1) < n {
			return r, io.ErrUnexpectedEOF
		}
		body := b[5 : 1+n]
		b = b[1+n:]
		switch typ {
		case 'R':
			if err := r.auth(body); err != nil {
				return r, err
			}
		case 'E':
			msg, ok := pgError(body)
			if !ok {
				return r, fmt.Errorf("%w: ErrorResponse without a message", errNotPostgres)
			}
			r.info.Error, r.done = msg, true
		case 'S':
			name, rest, ok := cutNUL(body)
			if !ok {
				return r, fmt.Errorf("%w: ParameterStatus without a NUL", errNotPostgres)
			}
			if string(name) == "server_version" {
				v, _, _ := cutNUL(rest)
				r.info.Version = Clean(v, 128)
			}
		case 'Z':
			r.done = true
		case 'K', 'N', 'v':
			// BackendKeyData, NoticeResponse, NegotiateProtocolVersion.
		default:
			return r, fmt.Errorf("%w: message type %q", errNotPostgres, typ)
		}
	}
	return r, nil
}

// auth decodes an Authentication* message.
func (r *pgReply) auth(body []byte) error {
	if len(body) < 4 {
		return fmt.Errorf("%w: authentication message of %d bytes", errNotPostgres, len(body))
	}
	code := binary.BigEndian.Uint32(body)
	r.done = true
	switch code {
	case 0:
		r.info.Auth, r.authOK, r.done = "trust", true, false
	case 2:
		r.info.Auth = "kerberos"
	case 3:
		r.info.Auth = "password"
	case 5:
		r.info.Auth = "md5"
	case 7:
		r.info.Auth = "gss"
	case 9:
		r.info.Auth = "sspi"
	case 10:
		r.info.Auth = "sasl"
		for rest := body[4:]; len(rest) > 0 && rest[0] != 0 && len(r.info.Mechanisms) < 8; {
			m, after, ok := cutNUL(rest)
			if !ok {
				return fmt.Errorf("%w: SASL mechanism without a NUL", errNotPostgres)
			}
			// Mechanism names are short ASCII (RFC 4422 3.1).
			if len(m) > 64 || !printableASCII(m) {
				return fmt.Errorf("%w: SASL mechanism %q", errNotPostgres, Clean(m, 64))
			}
			r.info.Mechanisms = append(r.info.Mechanisms, string(m))
			rest = after
		}
	default:
		return fmt.Errorf("%w: authentication request %d", errNotPostgres, code)
	}
	return nil
}

// pgError formats an ErrorResponse: "FATAL 28P01: password
// authentication failed for user "postgres"". Every server sends a
// message field; ok is false without one.
func pgError(body []byte) (text string, ok bool) {
	var severity, code, msg string
	for len(body) > 0 && body[0] != 0 {
		field := body[0]
		v, rest, _ := cutNUL(body[1:])
		body = rest
		switch field {
		case 'V':
			severity = Clean(v, 16)
		case 'S':
			if severity == "" {
				severity = Clean(v, 16)
			}
		case 'C':
			code = Clean(v, 16)
		case 'M':
			msg, ok = Clean(v, bannerText), len(v) > 0
		}
	}
	if head := strings.TrimSpace(severity + " " + code); head != "" {
		return head + ": " + msg, ok
	}
	return msg, ok
}

// pgSSLAnswer reads the answer to an SSLRequest: exactly one byte, 'S' or
// 'N'.
func pgSSLAnswer(b []byte) (ssl bool, ok bool) {
	if len(b) != 1 {
		return false, false
	}
	return b[0] == 'S', b[0] == 'S' || b[0] == 'N'
}
