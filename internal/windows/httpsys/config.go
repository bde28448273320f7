package httpsys

// This file decodes the records HttpQueryServiceConfiguration writes (x64
// and arm64 layouts; sizes from http.h, checked with unsafe.Sizeof in
// ../shared/design/windows.md 3.2) and encodes the queries that ask for
// them. The records hold pointers into the same output buffer.

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
)

// HTTP_SERVICE_CONFIG_ID values.
const (
	configIPListen   = 0 // HttpServiceConfigIPListenList
	configSSLCert    = 1 // HttpServiceConfigSSLCertInfo
	configURLACL     = 2 // HttpServiceConfigUrlAclInfo
	configSSLSNICert = 5 // HttpServiceConfigSslSniCertInfo (Windows 8+)
)

const queryNext = 1 // HttpServiceConfigQueryNext

// Layouts.
const (
	// HTTP_SERVICE_CONFIG_URLACL_QUERY and _SSL_QUERY: QueryDesc @0, key
	// pointer @8 (NULL for Next), dwToken @16.
	queryTokenOff = 16
	querySize     = 24
	// HTTP_SERVICE_CONFIG_SSL_SNI_QUERY: QueryDesc @0, key {SOCKADDR_STORAGE
	// IpPort; PWSTR Host} @8, dwToken @144.
	sniQueryTokenOff = 144
	sniQuerySize     = 152

	// HTTP_SERVICE_CONFIG_URLACL_SET: {PWSTR pUrlPrefix} {PWSTR pStringSecurityDescriptor}
	urlACLSetSize = 16

	// HTTP_SERVICE_CONFIG_SSL_SET: {PSOCKADDR pIpPort} then the parameters.
	sslSetParam = 8
	sslSetSize  = 88
	// HTTP_SERVICE_CONFIG_SSL_SNI_SET: {SOCKADDR_STORAGE IpPort; PWSTR Host}
	// then the parameters.
	sniSetHost  = 128
	sniSetParam = 136
	sniSetSize  = 216

	// HTTP_SERVICE_CONFIG_SSL_PARAM, relative to its start (80 bytes).
	sslParamHashLength = 0  // ULONG SslHashLength
	sslParamHash       = 8  // PVOID pSslHash
	sslParamAppID      = 16 // GUID AppId
	sslParamStore      = 32 // PWSTR pSslCertStoreName
	sslParamSize       = 80

	// HTTP_SERVICE_CONFIG_IP_LISTEN_QUERY: ULONG AddrCount, then
	// SOCKADDR_STORAGE AddrList[] at 8 (8-byte aligned).
	ipListenList = 8

	sockaddrStorageSize = 128
	afInet              = 2
	afInet6             = 23 // Windows' value
)

// nextQuery encodes the input of a Next enumeration of configID at token.
func nextQuery(configID int, token uint32) []byte {
	size, tokenOff := querySize, queryTokenOff
	if configID == configSSLSNICert {
		size, tokenOff = sniQuerySize, sniQueryTokenOff
	}
	b := make([]byte, size)
	le.PutUint32(b, queryNext)
	le.PutUint32(b[tokenOff:], token)
	return b
}

// parseURLACLSet decodes an HTTP_SERVICE_CONFIG_URLACL_SET at the start of
// buf, which the caller received at address base.
func parseURLACLSet(buf []byte, base uint64) (URLACL, error) {
	m := image{b: buf, base: base}
	if len(buf) < urlACLSetSize {
		return URLACL{}, fmt.Errorf("urlacl record: %d bytes, want %d: %w", len(buf), urlACLSetSize, ErrUnknownLayout)
	}
	p := m.u64(0)
	if p == 0 {
		return URLACL{}, fmt.Errorf("urlacl record without a URL prefix: %w", ErrUnknownLayout)
	}
	prefix, _, err := m.utf16z(p, "urlacl prefix")
	if err != nil {
		return URLACL{}, err
	}
	sddl, err := m.optUTF16z(m.u64(8), "urlacl security descriptor")
	if err != nil {
		return URLACL{}, err
	}
	return URLACL{Prefix: prefix, SDDL: sddl}, nil
}

// parseSSLSet decodes an HTTP_SERVICE_CONFIG_SSL_SET (an ip:port binding).
func parseSSLSet(buf []byte, base uint64) (SSLCert, error) {
	m := image{b: buf, base: base}
	if len(buf) < sslSetSize {
		return SSLCert{}, fmt.Errorf("sslcert record: %d bytes, want %d: %w", len(buf), sslSetSize, ErrUnknownLayout)
	}
	off, err := m.at(m.u64(0), 2, "sslcert address")
	if err != nil {
		return SSLCert{}, err
	}
	var c SSLCert
	if c.Addr, err = parseSockaddr(buf[off:]); err != nil {
		return SSLCert{}, err
	}
	if err := parseSSLParam(m, sslSetParam, &c); err != nil {
		return SSLCert{}, err
	}
	return c, nil
}

// parseSSLSNISet decodes an HTTP_SERVICE_CONFIG_SSL_SNI_SET (a
// hostname:port binding).
func parseSSLSNISet(buf []byte, base uint64) (SSLCert, error) {
	m := image{b: buf, base: base}
	if len(buf) < sniSetSize {
		return SSLCert{}, fmt.Errorf("SNI sslcert record: %d bytes, want %d: %w", len(buf), sniSetSize, ErrUnknownLayout)
	}
	var c SSLCert
	var err error
	if c.Addr, err = parseSockaddr(buf[:sockaddrStorageSize]); err != nil {
		return SSLCert{}, err
	}
	if c.Host, err = m.optUTF16z(m.u64(sniSetHost), "SNI host name"); err != nil {
		return SSLCert{}, err
	}
	if err := parseSSLParam(m, sniSetParam, &c); err != nil {
		return SSLCert{}, err
	}
	return c, nil
}

// parseSSLParam decodes the HTTP_SERVICE_CONFIG_SSL_PARAM at off.
func parseSSLParam(m image, off int, c *SSLCert) error {
	n := m.u32(off + sslParamHashLength)
	if n > 0 {
		h, err := m.at(m.u64(off+sslParamHash), uint64(n), "certificate hash")
		if err != nil {
			return err
		}
		c.Thumbprint = hex.EncodeToString(m.b[h : h+int(n)])
	}
	c.AppID = formatGUID(m.b[off+sslParamAppID : off+sslParamAppID+16])
	var err error
	c.Store, err = m.optUTF16z(m.u64(off+sslParamStore), "certificate store name")
	return err
}

// formatGUID formats a GUID as stored in memory (Data1-3 little-endian) the
// way netsh prints it.
func formatGUID(b []byte) string {
	return fmt.Sprintf("{%08x-%04x-%04x-%x-%x}", le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8:10], b[10:16])
}

// parseSockaddr decodes a SOCKADDR_IN or SOCKADDR_IN6 (Windows family
// numbers; the port in network byte order). A non-zero IPv6 scope becomes
// the zone.
func parseSockaddr(b []byte) (netip.AddrPort, error) {
	if len(b) < 2 {
		return netip.AddrPort{}, fmt.Errorf("socket address: %d bytes: %w", len(b), ErrUnknownLayout)
	}
	switch fam := le.Uint16(b); fam {
	case afInet:
		if len(b) < 8 {
			return netip.AddrPort{}, fmt.Errorf("IPv4 socket address: %d bytes, want 8: %w", len(b), ErrUnknownLayout)
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), uint16(b[2])<<8|uint16(b[3])), nil
	case afInet6:
		if len(b) < 28 {
			return netip.AddrPort{}, fmt.Errorf("IPv6 socket address: %d bytes, want 28: %w", len(b), ErrUnknownLayout)
		}
		a := netip.AddrFrom16([16]byte(b[8:24]))
		if scope := le.Uint32(b[24:]); scope != 0 {
			a = a.WithZone(strconv.FormatUint(uint64(scope), 10))
		}
		return netip.AddrPortFrom(a, uint16(b[2])<<8|uint16(b[3])), nil
	default:
		return netip.AddrPort{}, fmt.Errorf("socket address family %d: %w", fam, ErrUnknownLayout)
	}
}

// parseIPListen decodes an HTTP_SERVICE_CONFIG_IP_LISTEN_QUERY. The list
// holds no pointers.
func parseIPListen(buf []byte) ([]netip.Addr, error) {
	if len(buf) < 4 {
		return nil, fmt.Errorf("IP listen list: %d bytes: %w", len(buf), ErrUnknownLayout)
	}
	n := uint64(le.Uint32(buf))
	if n == 0 {
		return nil, nil
	}
	if need := ipListenList + n*sockaddrStorageSize; need > uint64(len(buf)) {
		return nil, fmt.Errorf("IP listen list of %d addresses needs %d bytes, has %d: %w", n, need, len(buf), ErrUnknownLayout)
	}
	addrs := make([]netip.Addr, 0, n)
	for i := range int(n) {
		off := ipListenList + i*sockaddrStorageSize
		ap, err := parseSockaddr(buf[off : off+sockaddrStorageSize])
		if err != nil {
			return nil, fmt.Errorf("IP listen list entry %d: %w", i, err)
		}
		addrs = append(addrs, ap.Addr())
	}
	return addrs, nil
}

// openPacketEA builds the extended attribute that opens
// \Device\Http\Communication for the management IOCTL (windows.md 3.1): one
// FILE_FULL_EA_INFORMATION named "UlOpenPacket000" whose 24-byte value is
// {USHORT Major; USHORT Minor; ULONG Flags; HANDLE; PVOID}.
func openPacketEA(major, minor uint16) []byte {
	const name = "UlOpenPacket000"
	b := make([]byte, 48)
	// NextEntryOffset @0 = 0, Flags @4 = 0
	b[5] = byte(len(name))  // EaNameLength
	le.PutUint16(b[6:], 24) // EaValueLength
	copy(b[8:], name)       // EaName, NUL at 23
	le.PutUint16(b[24:], major)
	le.PutUint16(b[26:], minor)
	return b
}

// serviceStateIOCTL is CTL_CODE(FILE_DEVICE_NETWORK, 0x25,
// METHOD_OUT_DIRECT, FILE_READ_ACCESS); its input is an
// HTTP_MGMT_ROOT_INFO of 0x18 zero bytes (code 0 = read the service
// state, and an empty UNICODE_STRING).
const (
	serviceStateIOCTL   = 0x12<<16 | 1<<14 | 0x25<<2 | 2
	serviceStateInSize  = 0x18
	serviceStateMaxSize = 64 << 20
)
