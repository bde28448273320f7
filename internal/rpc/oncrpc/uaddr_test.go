package oncrpc

import "testing"

func TestParseUniversalAddr(t *testing.T) {
	tests := []struct {
		in   string
		want string // netip.AddrPort text; "" for an error
	}{
		{"0.0.0.0.8.1", "0.0.0.0:2049"},
		{"127.0.0.1.0.111", "127.0.0.1:111"},
		{"192.168.1.20.255.255", "192.168.1.20:65535"},
		{"10.0.0.1.0.0", "10.0.0.1:0"},
		{"::.0.111", "[::]:111"},
		{"::1.3.47", "[::1]:815"},
		{"fe80::1:2.136.142", "[fe80::1:2]:34958"},
		{"fe80::1%eth0.100.0.111", "[fe80::1%eth0.100]:111"},
		{"::ffff:10.1.2.3.8.1", "[::ffff:10.1.2.3]:2049"},
		{"2001:db8::5.001.000", "[2001:db8::5]:256"},
		// Bad.
		{"", ""},
		{"127.0.0.1", ""},         // no port: "1" and "0" parse, "127.0" does not
		{"127.0.0.1.0", ""},       // one port octet
		{"127.0.0.1.256.1", ""},   // octet over 255
		{"127.0.0.1.0.1111", ""},  // four digits
		{"127.0.0.1.-1.1", ""},    // sign
		{"127.0.0.1.0.", ""},      // empty octet
		{"127.0.0.1.0.+1", ""},    // sign
		{"1.2.3.0.111", ""},       // three address octets
		{"localhost.0.111", ""},   // a name
		{"/run/rpcbind.sock", ""}, // a path (the local netid)
		{"::1", ""},               // v6 without port
		{"0.0.0.0.8.1 ", ""},      // trailing space
		{"1.2.3.4.5.6.7", ""},     // five address octets
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseUniversalAddr(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Errorf("ParseUniversalAddr(%q) = %v; want an error", tt.in, got)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("ParseUniversalAddr(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
			}
			back, err := ParseUniversalAddr(formatUniversalAddr(got))
			if err != nil || back != got {
				t.Errorf("ParseUniversalAddr(formatUniversalAddr(%v)) = %v, %v; want %v", got, back, err, got)
			}
		})
	}
}
