package probe

// This file decodes the first packet a MySQL or MariaDB server sends: the
// initial handshake (protocol 10, or the old 9), or an error packet when
// it refuses the client at once ("Host ... is not allowed to connect").
// Layouts: MySQL internals manual, "Protocol::HandshakeV10",
// "Protocol::HandshakeV9", "ERR_Packet"; MariaDB's "Connection" page.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MySQLInfo is what a MySQL or MariaDB server said in its first packet.
type MySQLInfo struct {
	// Protocol is the handshake protocol version (10; 9 for servers
	// older than 3.22), 0 for an error packet.
	Protocol int `json:"protocol,omitempty"`
	// Version is the server version string, as sent:
	// "8.0.36", "5.5.5-10.11.6-MariaDB-0+deb12u1".
	Version string `json:"version,omitempty"`
	// ConnectionID is the server's thread ID for this connection.
	ConnectionID uint32 `json:"connection_id,omitempty"`
	// Capabilities are the server's capability flags (CLIENT_*).
	Capabilities uint32 `json:"capabilities,omitempty"`
	// TLS is true when the server offers TLS (CLIENT_SSL).
	TLS bool `json:"tls"`
	// AuthPlugin is the default authentication plugin
	// ("caching_sha2_password", "mysql_native_password").
	AuthPlugin string `json:"auth_plugin,omitempty"`
	// ErrorCode and Error are set when the server refused the
	// connection with an error packet (1130: host not allowed).
	ErrorCode int    `json:"error_code,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Capability flags.
const (
	mysqlClientSSL        = 0x0000_0800
	mysqlClientPluginAuth = 0x0008_0000
)

// mysqlMaxPacket bounds the first packet; real handshakes are about a
// hundred bytes.
const mysqlMaxPacket = 1024

var errNotMySQL = errors.New("not a MySQL handshake")

// mysqlPacketLen returns the length of the packet that starts b (header
// included) when b starts like a server's first packet: sequence number
// 0 and a plausible payload length.
func mysqlPacketLen(b []byte) (int, bool) {
	if len(b) < 5 || b[3] != 0 {
		return 0, false
	}
	n := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
	if n < 1 || n > mysqlMaxPacket {
		return 0, false
	}
	switch b[4] {
	case 10, 9, 0xff:
		return 4 + n, true
	}
	return 0, false
}

// parseMySQL decodes the first packet of a MySQL server. It returns
// errNotMySQL when b does not start like one and io.ErrUnexpectedEOF
// when b holds only part of it.
func parseMySQL(b []byte) (*MySQLInfo, error) {
	n, ok := mysqlPacketLen(b)
	if !ok {
		return nil, errNotMySQL
	}
	if len(b) < n {
		return nil, io.ErrUnexpectedEOF
	}
	p := b[4:n]
	m := &MySQLInfo{}
	switch p[0] {
	case 0xff:
		// ERR_Packet: 0xff, error_code u16, then (protocol 4.1) '#' and
		// a five-character SQL state, then the message.
		if len(p) < 3 {
			return nil, fmt.Errorf("%w: error packet of %d bytes", errNotMySQL, len(p))
		}
		m.ErrorCode = int(binary.LittleEndian.Uint16(p[1:]))
		msg := p[3:]
		if len(msg) >= 6 && msg[0] == '#' {
			msg = msg[6:]
		}
		if !printableASCII(msg) {
			return nil, fmt.Errorf("%w: error message is not text", errNotMySQL)
		}
		m.Error = Clean(msg, bannerText)
		return m, nil
	case 9:
		m.Protocol = 9
		v, _, ok := cutNUL(p[1:])
		if !ok || !plausibleVersion(v) {
			return nil, fmt.Errorf("%w: protocol 9 without a version", errNotMySQL)
		}
		m.Version = Clean(v, bannerText)
		return m, nil
	}
	m.Protocol = 10
	v, rest, ok := cutNUL(p[1:])
	if !ok || !plausibleVersion(v) {
		return nil, fmt.Errorf("%w: no server version", errNotMySQL)
	}
	m.Version = Clean(v, bannerText)
	// connection_id u32, auth-plugin-data-part-1 [8], filler, capability
	// flags (lower 2 bytes).
	if len(rest) < 4+8+1+2 {
		return nil, fmt.Errorf("%w: handshake ends after the version", errNotMySQL)
	}
	m.ConnectionID = binary.LittleEndian.Uint32(rest)
	caps := uint32(binary.LittleEndian.Uint16(rest[13:]))
	rest = rest[15:]
	// character_set u8, status_flags u16, capability flags (upper 2
	// bytes), auth_plugin_data_len u8, 10 reserved (MariaDB keeps its
	// extended capabilities in the last 4), auth-plugin-data-part-2,
	// auth_plugin_name.
	if len(rest) >= 1+2+2+1+10 {
		caps |= uint32(binary.LittleEndian.Uint16(rest[3:])) << 16
		authLen := int(rest[5])
		rest = rest[16:]
		if part2 := max(13, authLen-8); caps&mysqlClientPluginAuth != 0 && len(rest) > part2 {
			name := rest[part2:]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i] // some servers omit the final NUL
			}
			if printableASCII(name) {
				m.AuthPlugin = Clean(name, 64)
			}
		}
	}
	m.Capabilities = caps
	m.TLS = caps&mysqlClientSSL != 0
	return m, nil
}

// Product names the server software: MariaDB announces itself as
// "5.5.5-10.11.6-MariaDB-..." to keep old clients happy; the prefix goes.
func (m *MySQLInfo) Product() string {
	if m.Version == "" {
		return ""
	}
	v := m.Version
	if rest, ok := strings.CutPrefix(v, "5.5.5-"); ok && strings.Contains(rest, "MariaDB") {
		v = rest
	}
	if strings.Contains(v, "MariaDB") {
		return "MariaDB " + v
	}
	return "MySQL " + v
}

// cutNUL splits b at its first NUL.
func cutNUL(b []byte) (before, after []byte, found bool) {
	return bytes.Cut(b, []byte{0})
}

// plausibleVersion: a version string starts with a digit and is short
// printable ASCII.
func plausibleVersion(v []byte) bool {
	return len(v) > 0 && len(v) <= 128 && isDigit(v[0]) && printableASCII(v)
}

func printableASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
