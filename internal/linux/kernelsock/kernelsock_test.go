package kernelsock

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"

	"github.com/whobinds/whobinds/internal/model"
)

// linkMsg builds an RTM_NEWLINK payload the way the kernel lays it out.
func linkMsg(t testing.TB, index int32, name, kind string, data func(*netlink.AttributeEncoder)) []byte {
	t.Helper()
	ae := netlink.NewAttributeEncoder()
	ae.String(iflaIfname, name)
	if kind != "" {
		ae.Nested(iflaLinkinfo, func(nae *netlink.AttributeEncoder) error {
			nae.String(iflaInfoKind, kind)
			if data != nil {
				nae.Nested(iflaInfoData, func(d *netlink.AttributeEncoder) error { data(d); return nil })
			}
			return nil
		})
	}
	attrs, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, ifinfomsgLen)
	binary.NativeEndian.PutUint32(hdr[4:], uint32(index))
	return append(hdr, attrs...)
}

func be16(p uint16) []byte { return binary.BigEndian.AppendUint16(nil, p) }

func TestParseLink(t *testing.T) {
	tests := []struct {
		name string
		msg  []byte
		want Link
	}{
		{
			name: "vxlan v4",
			msg: linkMsg(t, 7, "vxlan0", "vxlan", func(d *netlink.AttributeEncoder) {
				d.Uint32(vxlanID, 42)
				d.Bytes(vxlanLocal, []byte{127, 0, 0, 1})
				d.Bytes(vxlanPort, be16(4789))
			}),
			want: Link{Index: 7, Name: "vxlan0", Kind: "vxlan", Port: 4789, VNI: 42, Local: netip.MustParseAddr("127.0.0.1")},
		},
		{
			name: "vxlan v6 local",
			msg: linkMsg(t, 8, "vx6", "vxlan", func(d *netlink.AttributeEncoder) {
				d.Bytes(vxlanLocal6, netip.MustParseAddr("::1").AsSlice())
				d.Bytes(vxlanPort, be16(8472))
			}),
			want: Link{Index: 8, Name: "vx6", Kind: "vxlan", Port: 8472, Local: netip.MustParseAddr("::1")},
		},
		{
			name: "geneve",
			msg: linkMsg(t, 9, "gnv0", "geneve", func(d *netlink.AttributeEncoder) {
				d.Uint32(geneveID, 5)
				d.Bytes(genevePort, be16(6081))
			}),
			want: Link{Index: 9, Name: "gnv0", Kind: "geneve", Port: 6081, VNI: 5},
		},
		{
			name: "bareudp",
			msg: linkMsg(t, 10, "bu0", "bareudp", func(d *netlink.AttributeEncoder) {
				d.Bytes(bareudpPort, be16(6635))
			}),
			want: Link{Index: 10, Name: "bu0", Kind: "bareudp", Port: 6635},
		},
		{
			name: "veth holds no socket",
			msg:  linkMsg(t, 3, "veth0", "veth", nil),
			want: Link{Index: 3, Name: "veth0", Kind: "veth"},
		},
		{
			name: "loopback has no link info",
			msg:  linkMsg(t, 1, "lo", "", nil),
			want: Link{Index: 1, Name: "lo"},
		},
		{
			name: "truncated port ignored",
			msg: linkMsg(t, 11, "vxbad", "vxlan", func(d *netlink.AttributeEncoder) {
				d.Bytes(vxlanPort, []byte{1})
			}),
			want: Link{Index: 11, Name: "vxbad", Kind: "vxlan"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLink(tt.msg)
			if err != nil {
				t.Fatalf("ParseLink error: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("ParseLink mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseLinkErrors(t *testing.T) {
	for _, b := range [][]byte{nil, make([]byte, ifinfomsgLen-1), append(make([]byte, ifinfomsgLen), 0xff, 0xff, 0, 0)} {
		if _, err := ParseLink(b); err == nil {
			t.Errorf("ParseLink(%x) = nil error", b)
		}
	}
}

func TestLinkOwnersAndMatch(t *testing.T) {
	owners := LinkOwners([]Link{
		{Name: "lo"},
		{Name: "vxlan0", Kind: "vxlan", Port: 4789, VNI: 42},
	})
	if len(owners) != 1 || owners[0].Name != "vxlan0" || owners[0].Proto != model.UDP || owners[0].Port != 4789 {
		t.Fatalf("LinkOwners = %+v; want one vxlan0 owner of udp/4789", owners)
	}
	udp := &model.Socket{Proto: model.UDP, Local: netip.MustParseAddrPort("0.0.0.0:4789")}
	if o, ok := Match(owners, udp); !ok || o.Name != "vxlan0" {
		t.Errorf("Match(udp/4789) = %+v, %v; want vxlan0", o, ok)
	}
	tcp := &model.Socket{Proto: model.TCP, Local: netip.MustParseAddrPort("0.0.0.0:4789")}
	if o, ok := Match(owners, tcp); ok {
		t.Errorf("Match(tcp/4789) = %+v; want no owner", o)
	}
}

func TestParseNfsdPortlist(t *testing.T) {
	got, err := ParseNfsdPortlist([]byte("rdma 20049\ntcp 2049\nudp 2049\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Proto != model.TCP || got[0].Port != 2049 || got[1].Proto != model.UDP || got[0].Kind != "nfsd" {
		t.Errorf("ParseNfsdPortlist = %+v; want tcp and udp 2049 owned by nfsd", got)
	}
	for _, bad := range []string{"tcp\n", "tcp 70000\n", "tcp x\n", "tcp 1 2\n"} {
		if _, err := ParseNfsdPortlist([]byte(bad)); err == nil {
			t.Errorf("ParseNfsdPortlist(%q) = nil error", bad)
		}
	}
}

func TestParseSysctlPort(t *testing.T) {
	for in, want := range map[string]uint16{"0\n": 0, "4045\n": 4045, " 32768 ": 32768} {
		if got, err := ParseSysctlPort([]byte(in)); err != nil || got != want {
			t.Errorf("ParseSysctlPort(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "70000"} {
		if _, err := ParseSysctlPort([]byte(bad)); err == nil {
			t.Errorf("ParseSysctlPort(%q) = nil error", bad)
		}
	}
}

func TestParseWireGuardDevice(t *testing.T) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(1, 5)
	ae.String(wgDeviceIfname, "wg0")
	ae.Uint16(wgDeviceListen, 51820)
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	name, port, err := ParseWireGuardDevice(b)
	if err != nil || name != "wg0" || port != 51820 {
		t.Errorf("ParseWireGuardDevice = %q, %d, %v; want wg0, 51820", name, port, err)
	}
}

func FuzzParseLink(f *testing.F) {
	f.Add(linkMsg(f, 7, "vxlan0", "vxlan", func(d *netlink.AttributeEncoder) {
		d.Uint32(vxlanID, 42)
		d.Bytes(vxlanPort, be16(4789))
	}))
	f.Add(linkMsg(f, 1, "lo", "", nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLink(b)
		if err == nil && len(b) < ifinfomsgLen {
			t.Fatalf("ParseLink(%x) = %+v from a short message", b, l)
		}
	})
}
