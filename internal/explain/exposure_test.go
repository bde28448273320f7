package explain

import (
	"net/netip"
	"testing"

	"github.com/whobinds/whobinds/internal/model"
)

func TestExposureOf(t *testing.T) {
	tests := []struct {
		local  string
		v6only model.Tristate
		ifname string
		want   Exposure
	}{
		{"0.0.0.0:80", model.Unknown, "", Exposure{ScopeAny, "every IPv4 address"}},
		{"[::]:80", model.No, "", Exposure{ScopeAny, "every IPv4 and IPv6 address"}},
		{"[::]:80", model.Yes, "", Exposure{ScopeAny, "every IPv6 address (IPv6 only)"}},
		{"0.0.0.0:80", model.Unknown, "eth0", Exposure{ScopeAny, "every IPv4 address via interface eth0"}},
		{"127.0.0.53:53", model.Unknown, "", Exposure{ScopeLoopback, "this host only (loopback 127.0.0.53)"}},
		{"[::1]:631", model.Yes, "", Exposure{ScopeLoopback, "this host only (loopback ::1)"}},
		{"[::ffff:127.0.0.1]:80", model.No, "", Exposure{ScopeLoopback, "this host only (loopback 127.0.0.1)"}},
		{"[fe80::1]:546", model.Yes, "", Exposure{ScopeLinkLocal, "the local link only (fe80::1)"}},
		{"169.254.1.2:68", model.Unknown, "", Exposure{ScopeLinkLocal, "the local link only (169.254.1.2)"}},
		{"10.0.0.5:22", model.Unknown, "", Exposure{ScopePrivate, "a private network address (10.0.0.5)"}},
		{"100.100.1.1:22", model.Unknown, "", Exposure{ScopePrivate, "a private network address (100.100.1.1)"}},
		{"[fd00::5]:22", model.Yes, "", Exposure{ScopePrivate, "a private network address (fd00::5)"}},
		{"224.0.0.251:5353", model.Unknown, "", Exposure{ScopePrivate, "a multicast group (224.0.0.251)"}},
		{"192.0.2.2:22", model.Unknown, "", Exposure{ScopePublic, "a public address (192.0.2.2)"}},
	}
	for _, tt := range tests {
		s := &model.Socket{Local: netip.MustParseAddrPort(tt.local), V6Only: tt.v6only, Interface: tt.ifname}
		if got := ExposureOf(s); got != tt.want {
			t.Errorf("ExposureOf(%s v6only=%v if=%q) = %+v; want %+v", tt.local, tt.v6only, tt.ifname, got, tt.want)
		}
	}
}
