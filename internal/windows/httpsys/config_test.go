package httpsys

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Records as HttpQueryServiceConfiguration writes them: the fixed part at
// the start of the buffer, strings and addresses after it.

func urlACLRecord(prefix, sddl string) []byte {
	var w mem
	rec := w.alloc(urlACLSetSize)
	if prefix != "" {
		s, _ := w.wstr(prefix, true)
		w.setPtr(rec, s)
	}
	if sddl != "" {
		s, _ := w.wstr(sddl, true)
		w.setPtr(rec+8, s)
	}
	return w.b
}

// sockaddr encodes a SOCKADDR_IN or SOCKADDR_IN6 with Windows' family
// numbers, padded to size.
func sockaddr(ap netip.AddrPort, size int) []byte {
	b := make([]byte, size)
	port := ap.Port()
	b[2], b[3] = byte(port>>8), byte(port)
	if ap.Addr().Is4() {
		le.PutUint16(b, afInet)
		a := ap.Addr().As4()
		copy(b[4:], a[:])
	} else {
		le.PutUint16(b, afInet6)
		a := ap.Addr().As16()
		copy(b[8:], a[:])
		if z := ap.Addr().Zone(); z != "" {
			le.PutUint32(b[24:], 11)
		}
	}
	return b
}

// appID is {4dc3e181-e14b-4a21-b022-59fc669b0914} as stored in memory.
var appID = []byte{0x81, 0xe1, 0xc3, 0x4d, 0x4b, 0xe1, 0x21, 0x4a, 0xb0, 0x22, 0x59, 0xfc, 0x66, 0x9b, 0x09, 0x14}

const appIDString = "{4dc3e181-e14b-4a21-b022-59fc669b0914}"

// sslParam fills the HTTP_SERVICE_CONFIG_SSL_PARAM at off.
func sslParam(w *mem, off int, hash []byte, store string) {
	le.PutUint32(w.b[off+sslParamHashLength:], uint32(len(hash)))
	copy(w.b[off+sslParamAppID:], appID)
	if len(hash) > 0 {
		h := w.alloc(len(hash))
		copy(w.b[h:], hash)
		w.setPtr(off+sslParamHash, h)
	}
	if store != "" {
		s, _ := w.wstr(store, true)
		w.setPtr(off+sslParamStore, s)
	}
}

func sslRecord(ap netip.AddrPort, hash []byte, store string) []byte {
	var w mem
	rec := w.alloc(sslSetSize)
	a := w.alloc(28)
	copy(w.b[a:], sockaddr(ap, 28))
	w.setPtr(rec, a)
	sslParam(&w, rec+sslSetParam, hash, store)
	return w.b
}

func sniRecord(ap netip.AddrPort, host string, hash []byte, store string) []byte {
	var w mem
	rec := w.alloc(sniSetSize)
	copy(w.b[rec:], sockaddr(ap, sockaddrStorageSize))
	s, _ := w.wstr(host, true)
	w.setPtr(rec+sniSetHost, s)
	sslParam(&w, rec+sniSetParam, hash, store)
	return w.b
}

func ipListenRecord(addrs ...netip.Addr) []byte {
	b := make([]byte, ipListenList+len(addrs)*sockaddrStorageSize)
	le.PutUint32(b, uint32(len(addrs)))
	for i, a := range addrs {
		copy(b[ipListenList+i*sockaddrStorageSize:], sockaddr(netip.AddrPortFrom(a, 0), sockaddrStorageSize))
	}
	return b
}

var thumb, _ = hex.DecodeString("3a0d5f2e9c1b8a7d6e5f4a3b2c1d0e9f8a7b6c5d")

func TestParseURLACLSet(t *testing.T) {
	tests := []struct {
		name string
		buf  []byte
		want URLACL
	}{
		{"temporary listen addresses", urlACLRecord("http://+:80/Temporary_Listen_Addresses/", "D:(A;;GX;;;WD)"),
			URLACL{Prefix: "http://+:80/Temporary_Listen_Addresses/", SDDL: "D:(A;;GX;;;WD)"}},
		{"WinRM", urlACLRecord("http://+:5985/wsman/", "D:(A;;GX;;;S-1-5-80-569256582-2953403351-2909559716-1301513147-412116970)(A;;GX;;;S-1-5-80-4059739203-877974739-1245631912-527174227-2996563517)"),
			URLACL{Prefix: "http://+:5985/wsman/", SDDL: "D:(A;;GX;;;S-1-5-80-569256582-2953403351-2909559716-1301513147-412116970)(A;;GX;;;S-1-5-80-4059739203-877974739-1245631912-527174227-2996563517)"}},
		{"no security descriptor", urlACLRecord("https://+:443/ü/", ""), URLACL{Prefix: "https://+:443/ü/"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseURLACLSet(tc.buf, testBase)
			if err != nil {
				t.Fatalf("parseURLACLSet(%s) = %v", tc.name, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseURLACLSet(%s) mismatch (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

func TestParseSSLSet(t *testing.T) {
	tests := []struct {
		name string
		buf  []byte
		sni  bool
		want SSLCert
	}{
		{"IPv4 binding", sslRecord(netip.MustParseAddrPort("0.0.0.0:443"), thumb, "MY"), false,
			SSLCert{Addr: netip.MustParseAddrPort("0.0.0.0:443"), Thumbprint: hex.EncodeToString(thumb), AppID: appIDString, Store: "MY"}},
		{"IPv6 binding without a store", sslRecord(netip.MustParseAddrPort("[::]:5986"), thumb, ""), false,
			SSLCert{Addr: netip.MustParseAddrPort("[::]:5986"), Thumbprint: hex.EncodeToString(thumb), AppID: appIDString}},
		{"IPv6 binding with a scope", sslRecord(netip.MustParseAddrPort("[fe80::1%11]:8443"), nil, "WebHosting"), false,
			SSLCert{Addr: netip.MustParseAddrPort("[fe80::1%11]:8443"), AppID: appIDString, Store: "WebHosting"}},
		{"SNI binding", sniRecord(netip.MustParseAddrPort("0.0.0.0:443"), "www.example.com", thumb, "My"), true,
			SSLCert{Addr: netip.MustParseAddrPort("0.0.0.0:443"), Host: "www.example.com", Thumbprint: hex.EncodeToString(thumb), AppID: appIDString, Store: "My"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parse := parseSSLSet
			if tc.sni {
				parse = parseSSLSNISet
			}
			got, err := parse(tc.buf, testBase)
			if err != nil {
				t.Fatalf("parsing %s = %v", tc.name, err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("parsing %s mismatch (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

func TestParseIPListen(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("::1"), netip.MustParseAddr("0.0.0.0")}
	tests := []struct {
		name string
		buf  []byte
		want []netip.Addr
	}{
		{"three addresses", ipListenRecord(addrs...), addrs},
		{"empty list: every address", ipListenRecord(), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseIPListen(tc.buf)
			if err != nil {
				t.Fatalf("parseIPListen(%s) = %v", tc.name, err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("parseIPListen(%s) mismatch (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

func TestConfigRecordsCorrupt(t *testing.T) {
	v4 := netip.MustParseAddrPort("0.0.0.0:443")
	tests := []struct {
		name  string
		parse func([]byte, uint64) error
		buf   []byte
		edit  func(b []byte) []byte
	}{
		{"urlacl: short record", urlACL, urlACLRecord("http://+:80/", ""), func(b []byte) []byte { return b[:urlACLSetSize-1] }},
		{"urlacl: NULL prefix", urlACL, urlACLRecord("http://+:80/", ""), func(b []byte) []byte { le.PutUint64(b, 0); return b }},
		{"urlacl: prefix past the end", urlACL, urlACLRecord("http://+:80/", ""), func(b []byte) []byte { le.PutUint64(b, testBase+uint64(len(b))); return b }},
		{"urlacl: prefix without terminator", urlACL, urlACLRecord("http://+:80/", ""), func(b []byte) []byte { return b[:len(b)-2] }},
		{"urlacl: SDDL below the buffer", urlACL, urlACLRecord("http://+:80/", "D:"), func(b []byte) []byte { le.PutUint64(b[8:], testBase-2); return b }},
		{"sslcert: short record", sslCert, sslRecord(v4, thumb, "MY"), func(b []byte) []byte { return b[:sslSetSize-1] }},
		{"sslcert: NULL address", sslCert, sslRecord(v4, thumb, "MY"), func(b []byte) []byte { le.PutUint64(b, 0); return b }},
		{"sslcert: unknown family", sslCert, sslRecord(v4, thumb, "MY"), func(b []byte) []byte { b[sslSetSize] = 99; return b }},
		{"sslcert: IPv6 address cut by the end", sslCert, sslRecord(netip.MustParseAddrPort("[::1]:443"), nil, ""), func(b []byte) []byte { return b[:sslSetSize+20] }},
		{"sslcert: hash longer than the buffer", sslCert, sslRecord(v4, thumb, "MY"), func(b []byte) []byte { le.PutUint32(b[sslSetParam:], 1<<31); return b }},
		{"sslcert: NULL hash with a length", sslCert, sslRecord(v4, nil, "MY"), func(b []byte) []byte { le.PutUint32(b[sslSetParam:], 20); return b }},
		{"sslcert: store past the end", sslCert, sslRecord(v4, thumb, "MY"), func(b []byte) []byte {
			le.PutUint64(b[sslSetParam+sslParamStore:], testBase+uint64(len(b)))
			return b
		}},
		{"SNI: short record", sniCert, sniRecord(v4, "a", nil, ""), func(b []byte) []byte { return b[:sniSetSize-1] }},
		{"SNI: unknown family", sniCert, sniRecord(v4, "a", nil, ""), func(b []byte) []byte { b[0] = 0; return b }},
		{"SNI: host without terminator", sniCert, sniRecord(v4, "a", nil, ""), func(b []byte) []byte { return b[:len(b)-2] }},
		{"iplisten: short", ipListen, ipListenRecord(), func(b []byte) []byte { return b[:3] }},
		{"iplisten: count beyond the buffer", ipListen, ipListenRecord(netip.MustParseAddr("::1")), func(b []byte) []byte { le.PutUint32(b, 2); return b }},
		{"iplisten: huge count", ipListen, ipListenRecord(), func(b []byte) []byte { le.PutUint32(b, 1<<32-1); return b }},
		{"iplisten: unknown family", ipListen, ipListenRecord(netip.MustParseAddr("::1")), func(b []byte) []byte { b[ipListenList] = 7; return b }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.parse(tc.edit(tc.buf), testBase); !errors.Is(err, ErrUnknownLayout) {
				t.Fatalf("parsing %s = %v; want an error wrapping ErrUnknownLayout", tc.name, err)
			}
		})
	}
}

func urlACL(b []byte, base uint64) error   { _, err := parseURLACLSet(b, base); return err }
func sslCert(b []byte, base uint64) error  { _, err := parseSSLSet(b, base); return err }
func sniCert(b []byte, base uint64) error  { _, err := parseSSLSNISet(b, base); return err }
func ipListen(b []byte, base uint64) error { _, err := parseIPListen(b); return err }

func TestNextQuery(t *testing.T) {
	tests := []struct {
		configID int
		token    uint32
		size     int
		tokenOff int
	}{
		{configURLACL, 0, 24, 16},
		{configSSLCert, 7, 24, 16},
		{configSSLSNICert, 0x01020304, 152, 144},
	}
	for _, tc := range tests {
		b := nextQuery(tc.configID, tc.token)
		want := make([]byte, tc.size)
		want[0] = queryNext
		le.PutUint32(want[tc.tokenOff:], tc.token)
		if diff := cmp.Diff(want, b); diff != "" {
			t.Errorf("nextQuery(%d, %d) mismatch (-want +got):\n%s", tc.configID, tc.token, diff)
		}
	}
}

// The extended attribute that opens \Device\Http\Communication, byte for
// byte as windows.md 3.1 describes it, and the IOCTL code.
func TestOpenPacketEA(t *testing.T) {
	want, _ := hex.DecodeString("00000000" + "00" + "0f" + "1800" + // NextEntryOffset, Flags, EaNameLength 15, EaValueLength 0x18
		hex.EncodeToString([]byte("UlOpenPacket000\x00")) +
		"0200" + "0000" + "00000000" + "0000000000000000" + "0000000000000000") // version 2.0, flags, handle, reserved
	if diff := cmp.Diff(want, openPacketEA(2, 0)); diff != "" {
		t.Errorf("openPacketEA(2, 0) mismatch (-want +got):\n%s", diff)
	}
	if serviceStateIOCTL != 0x00124096 {
		t.Errorf("serviceStateIOCTL = %#x; want 0x124096", serviceStateIOCTL)
	}
}

func FuzzConfigRecords(f *testing.F) {
	v4 := netip.MustParseAddrPort("0.0.0.0:443")
	f.Add(uint8(0), urlACLRecord("http://+:80/Temporary_Listen_Addresses/", "D:(A;;GX;;;WD)"))
	f.Add(uint8(1), sslRecord(v4, thumb, "MY"))
	f.Add(uint8(1), sslRecord(netip.MustParseAddrPort("[fe80::1%11]:8443"), thumb, ""))
	f.Add(uint8(2), sniRecord(v4, "www.example.com", thumb, "My"))
	f.Add(uint8(3), ipListenRecord(netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("::1")))
	parsers := []func([]byte, uint64) error{urlACL, sslCert, sniCert, ipListen}
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		err := parsers[int(which)%len(parsers)](b, testBase)
		if err != nil && !errors.Is(err, ErrUnknownLayout) {
			t.Fatalf("parser %d = %v; want nil or an error wrapping ErrUnknownLayout", which, err)
		}
	})
}
