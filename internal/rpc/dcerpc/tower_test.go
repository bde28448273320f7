package dcerpc

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	samr  = "12345778-1234-abcd-ef00-0123456789ac"
	lsarp = "12345778-1234-abcd-ef00-0123456789ab"
	epm   = "e1af8308-5d1f-11c9-91a4-08002b14a0fa"
)

// TestParseTower decodes towers written by hand from the floor table of
// windows.md §5.3 and C706 appendix L, one per protocol sequence.
func TestParseTower(t *testing.T) {
	nc := idFloor(0x0b, []byte{0, 0})
	dg := idFloor(0x0a, []byte{0, 0})
	lrpc := idFloor(0x0c, []byte{0, 0})
	tests := []struct {
		name    string
		tower   []byte
		want    Entry
		binding string
	}{
		{"ncacn_ip_tcp",
			towerOf(ifaceFloor(samr, 1, 0), ndrFloor(), nc, idFloor(floorTCP, portRHS(49668)), idFloor(floorIP, []byte{0, 0, 0, 0})),
			Entry{Interface: samr, Version: "1.0", Protocol: ProtoTCP, Host: "0.0.0.0", Endpoint: "49668", Port: 49668},
			"ncacn_ip_tcp:0.0.0.0[49668]"},
		{"ncacn_ip_tcp on an address",
			towerOf(ifaceFloor(samr, 1, 0), ndrFloor(), nc, idFloor(floorTCP, portRHS(1025)), idFloor(floorIP, []byte{10, 0, 0, 7})),
			Entry{Interface: samr, Version: "1.0", Protocol: ProtoTCP, Host: "10.0.0.7", Endpoint: "1025", Port: 1025},
			"ncacn_ip_tcp:10.0.0.7[1025]"},
		{"ncadg_ip_udp",
			towerOf(ifaceFloor(epm, 3, 0), ndrFloor(), dg, idFloor(floorUDP, portRHS(135)), idFloor(floorIP, []byte{192, 168, 1, 2})),
			Entry{Interface: epm, Version: "3.0", Protocol: ProtoUDP, Host: "192.168.1.2", Endpoint: "135", Port: 135},
			"ncadg_ip_udp:192.168.1.2[135]"},
		{"ncacn_http",
			towerOf(ifaceFloor(epm, 3, 0), ndrFloor(), nc, idFloor(floorHTTP, portRHS(593)), idFloor(floorIP, []byte{0, 0, 0, 0})),
			Entry{Interface: epm, Version: "3.0", Protocol: ProtoHTTP, Host: "0.0.0.0", Endpoint: "593", Port: 593},
			"ncacn_http:0.0.0.0[593]"},
		{"ncacn_np, Windows",
			towerOf(ifaceFloor(lsarp, 0, 0), ndrFloor(), nc, idFloor(floorSMB, cstr(`\PIPE\lsass`)), idFloor(floorNetBIOS, cstr(`\\DC01`))),
			Entry{Interface: lsarp, Version: "0.0", Protocol: ProtoNP, Host: `\\DC01`, Endpoint: `\PIPE\lsass`},
			`ncacn_np:\\DC01[\PIPE\lsass]`},
		{"ncacn_np, bare host",
			towerOf(ifaceFloor(lsarp, 0, 0), ndrFloor(), nc, idFloor(floorSMB, cstr(`\pipe\lsass`)), idFloor(floorNetBIOS01, cstr("HOST"))),
			Entry{Interface: lsarp, Version: "0.0", Protocol: ProtoNP, Host: "HOST", Endpoint: `\pipe\lsass`},
			`ncacn_np:\\HOST[\pipe\lsass]`},
		{"ncacn_np, Samba: empty NetBIOS name",
			towerOf(ifaceFloor(samr, 1, 0), ndrFloor(), nc, idFloor(floorSMB, cstr(`\pipe\samr`)), idFloor(floorNetBIOS, []byte{0})),
			Entry{Interface: samr, Version: "1.0", Protocol: ProtoNP, Endpoint: `\pipe\samr`},
			`ncacn_np:[\pipe\samr]`},
		{"ncalrpc",
			towerOf(ifaceFloor(samr, 1, 0), ndrFloor(), lrpc, idFloor(floorPipe, cstr("LRPC-4e3b8b0a21c3a1f4d3"))),
			Entry{Interface: samr, Version: "1.0", Protocol: ProtoLRPC, Endpoint: "LRPC-4e3b8b0a21c3a1f4d3"},
			"ncalrpc:[LRPC-4e3b8b0a21c3a1f4d3]"},
		{"version 5.2",
			towerOf(ifaceFloor(samr, 5, 2), ndrFloor(), nc, idFloor(floorTCP, portRHS(0xffff)), idFloor(floorIP, []byte{0, 0, 0, 0})),
			Entry{Interface: samr, Version: "5.2", Protocol: ProtoTCP, Host: "0.0.0.0", Endpoint: "65535", Port: 0xffff},
			"ncacn_ip_tcp:0.0.0.0[65535]"},
		{"unknown transport (SPX)",
			towerOf(ifaceFloor(samr, 1, 0), ndrFloor(), nc, idFloor(0x0c, portRHS(1)), idFloor(0x0d, make([]byte, 10))),
			Entry{Interface: samr, Version: "1.0", Protocol: "unknown(0x0c)"},
			"unknown(0x0c):[]"},
		{"unknown floors are skipped",
			towerOf(ifaceFloor(samr, 1, 0), ndrFloor(), nc, idFloor(floorTCP, portRHS(80)), idFloor(0x77, []byte{1, 2, 3}), idFloor(floorIP, []byte{127, 0, 0, 1})),
			Entry{Interface: samr, Version: "1.0", Protocol: ProtoTCP, Host: "127.0.0.1", Endpoint: "80", Port: 80},
			"ncacn_ip_tcp:127.0.0.1[80]"},
		{"three floors",
			towerOf(ifaceFloor(samr, 1, 0), ndrFloor(), idFloor(0x21, nil)),
			Entry{Interface: samr, Version: "1.0", Protocol: "unknown(0x21)"},
			"unknown(0x21):[]"},
		{"trailing bytes after the floors",
			append(towerOf(ifaceFloor(samr, 1, 0), ndrFloor(), lrpc, idFloor(floorPipe, cstr("x"))), 0xde, 0xad),
			Entry{Interface: samr, Version: "1.0", Protocol: ProtoLRPC, Endpoint: "x"},
			"ncalrpc:[x]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Entry
			if err := parseTower(tt.tower, &got); err != nil {
				t.Fatalf("parseTower(%x) = %v", tt.tower, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseTower(%x) mismatch (-want +got):\n%s", tt.tower, diff)
			}
			if b := got.Binding(); b != tt.binding {
				t.Errorf("Binding() = %q; want %q", b, tt.binding)
			}
		})
	}
}

func TestParseTowerMalformed(t *testing.T) {
	good := towerOf(ifaceFloor(samr, 1, 0), ndrFloor(), idFloor(0x0b, []byte{0, 0}), idFloor(floorTCP, portRHS(80)), idFloor(floorIP, []byte{0, 0, 0, 0}))
	tests := []struct {
		name  string
		tower []byte
		msg   string
	}{
		{"empty", nil, "tower of 0 bytes"},
		{"two floors", towerOf(ifaceFloor(samr, 1, 0), ndrFloor()), "tower of 2 floors"},
		{"floor count past the end", func() []byte { b := append([]byte(nil), good...); le.PutUint16(b, 6); return b }(), "floor 6: "},
		{"cut inside a floor", good[:len(good)-3], "floor 5: "},
		{"cut inside a length", good[:len(good)-6], "floor 5: "},
		{"empty lhs", towerOf(ifaceFloor(samr, 1, 0), ndrFloor(), testFloor{}), "floor 3: "},
		{"floor 1 not a UUID", towerOf(idFloor(floorTCP, portRHS(1)), ndrFloor(), idFloor(0x0b, nil)), "floor 1 is not an interface"},
		{"floor 1 short", towerOf(testFloor{[]byte{floorUUID, 1, 2}, []byte{0, 0}}, ndrFloor(), idFloor(0x0b, nil)), "floor 1 is not an interface"},
		{"port of 3 bytes", towerOf(ifaceFloor(samr, 1, 0), ndrFloor(), idFloor(0x0b, nil), idFloor(floorTCP, []byte{1, 2, 3})), "port of 3 bytes"},
		{"IPv4 of 16 bytes", towerOf(ifaceFloor(samr, 1, 0), ndrFloor(), idFloor(0x0b, nil), idFloor(floorTCP, portRHS(1)), idFloor(floorIP, make([]byte, 16))), "IPv4 address of 16 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Entry
			err := parseTower(tt.tower, &e)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("parseTower(%x) = %v; want ErrMalformed containing %q", tt.tower, err, tt.msg)
			}
		})
	}
}

func TestEntryName(t *testing.T) {
	tests := []struct {
		iface, version string
		want           string
	}{
		{samr, "1.0", "MS-SAMR (samr)"},
		{strings.ToUpper(samr), "1.0", "MS-SAMR (samr)"},
		{lsarp, "0.0", "MS-LSAD/MS-LSAT (lsarpc)"},
		{"12345678-1234-abcd-ef00-0123456789ab", "1.0", "MS-RPRN (winspool)"},
		{"f6beaff7-1e19-4fbb-9f8f-b89e2018337c", "1.0", "MS-EVEN6 (Eventlog)"},
		{epm, "3.0", "MS-RPCE (EndpointMapper)"},
		{samr, "9.9", "MS-SAMR (samr)"}, // a version the table does not list
		{"00000000-1111-2222-3333-444444444444", "1.0", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		e := Entry{Interface: tt.iface, Version: tt.version}
		if got := e.Name(); got != tt.want {
			t.Errorf("Entry{Interface: %q, Version: %q}.Name() = %q; want %q", tt.iface, tt.version, got, tt.want)
		}
	}
}
