package iphlpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/whobinds/whobinds/internal/model"
)

// rowOpts compare rows by their exported fields, addresses with ==.
var rowOpts = cmp.Options{cmpopts.IgnoreUnexported(Row{}), cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{})}

var allClasses = []Class{OwnerModuleAll, OwnerModuleListener, OwnerPIDAll, OwnerPIDListener}

// created is a socket creation time with 100 ns precision, as FILETIME
// has; createdFT is its FILETIME, worked out by hand:
// 2024-03-05T06:07:08Z is Unix 1709618828, plus 11644473600 s before 1970.
var (
	created   = time.Date(2024, 3, 5, 6, 7, 8, 123456700, time.UTC)
	createdFT = int64(1709618828+11644473600)*10_000_000 + 1234567
)

func TestFiletimeFixture(t *testing.T) {
	if got := toFiletime(created); got != createdFT {
		t.Fatalf("toFiletime(%v) = %d; want %d", created, got, createdFT)
	}
}

// TestDecode decodes a fixture of every layout: ports with junk in the
// upper 16 bits, IPv4 in network order, IPv6 with scope IDs, FILETIME,
// service tag and UDP flags.
func TestDecode(t *testing.T) {
	ap := netip.MustParseAddrPort
	tcp4 := []fixRow{
		// A listener whose remote fields hold junk: they "have no meaning"
		// for LISTEN and must come out as 0.0.0.0:0.
		{state: 2, local: ap("0.0.0.0:445"), remote: ap("10.9.8.7:4660"), portJunk: 0xBEEF, pid: 4,
			filetime: createdFT, moduleInfo0: 0xFFFFFFFF_0000002A, moduleInfoFill: 0x55},
		{state: 5, local: ap("192.168.1.20:50000"), remote: ap("93.184.216.34:443"), portJunk: 0x1234, pid: 1234},
		{state: 11, local: ap("127.0.0.1:8080"), remote: ap("127.0.0.1:60001"), pid: 0},
	}
	tcp6 := []fixRow{
		{state: 2, local: ap("[::]:135"), remote: ap("[fe80::1%7]:9"), portJunk: 0xFFFF, pid: 968,
			filetime: createdFT, moduleInfo0: 7},
		{state: 5, local: ap("[fe80::aa:bbff:fecc:ddee%12]:22"), remote: ap("[fe80::1%12]:51234"), pid: 77},
		{state: 5, local: ap("[::ffff:127.0.0.1]:3389"), remote: ap("[::ffff:10.0.0.9]:40000"), pid: 12},
		// Wine 8 gives ::1 the scope ID 0x1000 and a global address
		// another: they name no zone.
		{state: 2, local: ap("[::1%4096]:8080"), pid: 32},
		{state: 5, local: ap("[2001:db8::1%5]:443"), remote: ap("[ff02::fb%6]:5353"), pid: 32},
	}
	udp4 := []fixRow{
		{local: ap("0.0.0.0:5353"), portJunk: 0xCAFE, pid: 2000, filetime: createdFT, moduleInfo0: 0x1_00000099, flags: 1},
		{local: ap("127.0.0.1:53"), pid: 3000, flags: 2}, // only bit 0 is SpecificPortBind
	}
	udp6 := []fixRow{
		{local: ap("[::]:5355"), portJunk: 0x8000, pid: 2000, filetime: createdFT, moduleInfo0: 0x99, flags: 1},
		{local: ap("[fe80::1%3]:546"), pid: 3000},
		{local: ap("[::1%4096]:53"), pid: 3000},
	}
	wantTCP4 := []Row{
		{Table: TCP4, Local: ap("0.0.0.0:445"), Remote: ap("0.0.0.0:0"), State: model.Listen, PID: 4, Created: created, Tag: 0x2A},
		{Table: TCP4, Local: ap("192.168.1.20:50000"), Remote: ap("93.184.216.34:443"), State: model.Established, PID: 1234},
		{Table: TCP4, Local: ap("127.0.0.1:8080"), Remote: ap("127.0.0.1:60001"), State: model.TimeWait},
	}
	wantTCP6 := []Row{
		{Table: TCP6, Local: ap("[::]:135"), Remote: ap("[::]:0"), State: model.Listen, PID: 968, Created: created, Tag: 7},
		{Table: TCP6, Local: ap("[fe80::aa:bbff:fecc:ddee%12]:22"), Remote: ap("[fe80::1%12]:51234"), State: model.Established, PID: 77},
		{Table: TCP6, Local: ap("[::ffff:127.0.0.1]:3389"), Remote: ap("[::ffff:10.0.0.9]:40000"), State: model.Established, PID: 12},
		{Table: TCP6, Local: ap("[::1]:8080"), Remote: ap("[::]:0"), State: model.Listen, PID: 32},
		{Table: TCP6, Local: ap("[2001:db8::1]:443"), Remote: ap("[ff02::fb%6]:5353"), State: model.Established, PID: 32},
	}
	wantUDP4 := []Row{
		{Table: UDP4, Local: ap("0.0.0.0:5353"), State: model.Close, PID: 2000, Created: created, Tag: 0x99, SpecificPortBind: true},
		{Table: UDP4, Local: ap("127.0.0.1:53"), State: model.Close, PID: 3000},
	}
	wantUDP6 := []Row{
		{Table: UDP6, Local: ap("[::]:5355"), State: model.Close, PID: 2000, Created: created, Tag: 0x99, SpecificPortBind: true},
		{Table: UDP6, Local: ap("[fe80::1%3]:546"), State: model.Close, PID: 3000},
		{Table: UDP6, Local: ap("[::1]:53"), State: model.Close, PID: 3000},
	}
	// pidOnly is what the OwnerPID classes give of the same rows.
	pidOnly := func(rows []Row) []Row {
		out := make([]Row, len(rows))
		for i, r := range rows {
			r.Created, r.Tag, r.SpecificPortBind = time.Time{}, 0, false
			out[i] = r
		}
		return out
	}
	tests := []struct {
		t    Table
		fix  []fixRow
		want []Row
	}{
		{TCP4, tcp4, wantTCP4},
		{TCP6, tcp6, wantTCP6},
		{UDP4, udp4, wantUDP4},
		{UDP6, udp6, wantUDP6},
	}
	for _, tt := range tests {
		for _, c := range allClasses {
			t.Run(tt.t.String()+"/"+c.String(), func(t *testing.T) {
				b := buildTable(tt.t, c, uint32(len(tt.fix)), tt.fix...)
				// Headroom after the last row, as Get's buffers have.
				b = append(b, bytes.Repeat([]byte{0xEE}, 100)...)
				got, err := Decode(b, tt.t, c)
				if err != nil {
					t.Fatalf("Decode(%d bytes, %s, %s) = %v", len(b), tt.t, c, err)
				}
				want := tt.want
				if !c.module() {
					want = pidOnly(want)
				}
				if diff := cmp.Diff(want, got, rowOpts); diff != "" {
					t.Errorf("Decode(%s, %s) mismatch (-want +got):\n%s", tt.t, c, diff)
				}
				// The module rows keep a copy of their bytes for
				// OwnerModule; the PID rows keep none.
				l := docLayoutOf(tt.t, c)
				for i, r := range got {
					var want []byte
					if c.module() {
						want = b[l.rowsAt+i*l.size : l.rowsAt+(i+1)*l.size]
					}
					if !bytes.Equal(r.raw, want) {
						t.Errorf("row %d raw = %x; want %x", i, r.raw, want)
					}
				}
				if c.module() {
					before := bytes.Clone(got[0].raw)
					clear(b)
					if !bytes.Equal(got[0].raw, before) {
						t.Errorf("row 0 raw changed with the buffer; want a copy")
					}
				}
			})
		}
	}
}

func TestDecodeBadBuffers(t *testing.T) {
	ap := netip.MustParseAddrPort
	one := fixRow{state: 2, local: ap("127.0.0.1:80"), pid: 8}
	oneRow := Row{Table: TCP4, Local: ap("127.0.0.1:80"), Remote: ap("0.0.0.0:0"), State: model.Listen, PID: 8}
	full := buildTable(TCP4, OwnerModuleAll, 2, one, one)
	tests := []struct {
		name    string
		b       []byte
		c       Class
		want    []Row
		wantErr string // substring; "" for no error
		eof     bool   // the error wraps io.ErrUnexpectedEOF
	}{
		{name: "nil", b: nil, c: OwnerPIDAll, wantErr: "0 bytes, too short for the entry count", eof: true},
		{name: "3 bytes", b: []byte{1, 0, 0}, c: OwnerPIDAll, wantErr: "3 bytes", eof: true},
		{name: "empty pid table", b: buildTable(TCP4, OwnerPIDAll, 0), c: OwnerPIDAll},
		{name: "empty module table", b: buildTable(TCP4, OwnerModuleAll, 0), c: OwnerModuleAll},
		{name: "empty module table, count only", b: []byte{0, 0, 0, 0}, c: OwnerModuleAll},
		{name: "count but no rows", b: []byte{1, 0, 0, 0}, c: OwnerPIDAll,
			wantErr: "claims 1 rows but its 4 bytes hold only 0", eof: true},
		{name: "module count, header cut", b: []byte{1, 0, 0, 0, 0, 0}, c: OwnerModuleAll,
			wantErr: "claims 1 rows but its 6 bytes hold only 0", eof: true},
		{name: "count larger than the buffer", b: buildTable(TCP4, OwnerPIDAll, 3, one), c: OwnerPIDAll,
			want: []Row{oneRow}, wantErr: "claims 3 rows but its 28 bytes hold only 1", eof: true},
		{name: "count 0xFFFFFFFF", b: buildTable(TCP4, OwnerPIDAll, 0xFFFFFFFF, one), c: OwnerPIDAll,
			want: []Row{oneRow}, wantErr: "claims 4294967295 rows", eof: true},
		{name: "truncated second row", b: full[:len(full)-1], c: OwnerModuleAll,
			want: []Row{oneRow}, wantErr: "claims 2 rows but its 327 bytes hold only 1", eof: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.b, TCP4, tt.c)
			if diff := cmp.Diff(tt.want, got, rowOpts, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Decode(%x) rows mismatch (-want +got):\n%s", tt.b, diff)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Decode(%x) = %v; want no error", tt.b, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Decode(%x) = %v; want an error containing %q", tt.b, err, tt.wantErr)
			}
			if tt.eof && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("Decode(%x) = %v; want it to wrap io.ErrUnexpectedEOF", tt.b, err)
			}
		})
	}
}

func TestDecodeUnknownTableOrClass(t *testing.T) {
	b := buildTable(TCP4, OwnerPIDAll, 0)
	for _, tc := range []struct {
		t Table
		c Class
	}{{4, OwnerPIDAll}, {TCP4, 4}, {255, 255}} {
		if rows, err := Decode(b, tc.t, tc.c); err == nil {
			t.Errorf("Decode(%x, %d, %d) = %v, nil; want an error", b, tc.t, tc.c, rows)
		}
	}
}

// TestState checks the mapping of every MIB_TCP_STATE (tcpmib.h) onto
// model's states.
func TestState(t *testing.T) {
	tests := []struct {
		mib  uint32
		want model.State
	}{
		{0, model.StateUnknown},
		{1, model.Close}, // MIB_TCP_STATE_CLOSED: Linux's TCP_CLOSE
		{2, model.Listen},
		{3, model.SynSent},
		{4, model.SynRecv},
		{5, model.Established},
		{6, model.FinWait1},
		{7, model.FinWait2},
		{8, model.CloseWait},
		{9, model.Closing},
		{10, model.LastAck},
		{11, model.TimeWait},
		{12, model.StateUnknown}, // DELETE_TCB has no Linux counterpart
		{13, model.StateUnknown},
		{100, model.BoundInactive}, // netstat -q's BOUND
		{0xFFFFFFFF, model.StateUnknown},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.mib), func(t *testing.T) {
			if got := stateOf(tt.mib); got != tt.want {
				t.Errorf("stateOf(%d) = %v; want %v", tt.mib, got, tt.want)
			}
			// And through Decode, for a TCP row.
			ap := netip.MustParseAddrPort
			b := buildTable(TCP4, OwnerPIDAll, 1, fixRow{state: tt.mib, local: ap("127.0.0.1:1"), remote: ap("127.0.0.1:2")})
			rows, err := Decode(b, TCP4, OwnerPIDAll)
			if err != nil || len(rows) != 1 || rows[0].State != tt.want {
				t.Errorf("Decode(state %d) = %v, %v; want one row in %v", tt.mib, rows, err, tt.want)
			}
		})
	}
}

func TestFiletime(t *testing.T) {
	tests := []struct {
		ft   int64
		want time.Time
	}{
		{0, time.Time{}},  // not recorded (always, under Wine 8)
		{-1, time.Time{}}, // not a FILETIME
		{116444736000000000, time.Unix(0, 0)},
		{116444736000000001, time.Unix(0, 100)},
		{116444735999999999, time.Unix(-1, 999999900)},
		{1, time.Date(1601, 1, 1, 0, 0, 0, 100, time.UTC)},
		{createdFT, created},
		{1<<63 - 1, time.Date(30828, 9, 14, 2, 48, 5, 477580700, time.UTC)},
	}
	for _, tt := range tests {
		if got := filetime(tt.ft); !got.Equal(tt.want) || got.IsZero() != tt.want.IsZero() {
			t.Errorf("filetime(%d) = %v; want %v", tt.ft, got, tt.want)
		}
	}
}

func TestStrings(t *testing.T) {
	tables := map[Table]string{TCP4: "tcp4", TCP6: "tcp6", UDP4: "udp4", UDP6: "udp6", 9: "table9"}
	for tb, want := range tables {
		if got := tb.String(); got != want {
			t.Errorf("Table(%d).String() = %q; want %q", tb, got, want)
		}
	}
	classes := map[Class]string{OwnerModuleAll: "owner-module-all", OwnerModuleListener: "owner-module-listener",
		OwnerPIDAll: "owner-pid-all", OwnerPIDListener: "owner-pid-listener", 7: "class7"}
	for c, want := range classes {
		if got := c.String(); got != want {
			t.Errorf("Class(%d).String() = %q; want %q", c, got, want)
		}
	}
	protos := map[Table]model.Proto{TCP4: model.TCP, TCP6: model.TCP, UDP4: model.UDP, UDP6: model.UDP}
	for tb, want := range protos {
		if got := tb.Proto(); got != want {
			t.Errorf("%s.Proto() = %v; want %v", tb, got, want)
		}
	}
}

// TestNative checks the class and family arguments against iprtrmib.h's
// TCP_TABLE_CLASS and UDP_TABLE_CLASS and ws2def.h's AF_INET/AF_INET6.
func TestNative(t *testing.T) {
	want := map[Table][4]uint32{
		TCP4: {8, 6, 5, 3}, TCP6: {8, 6, 5, 3},
		UDP4: {2, 2, 1, 1}, UDP6: {2, 2, 1, 1},
	}
	for tb, w := range want {
		for _, c := range allClasses {
			if got := native(tb, c); got != w[c] {
				t.Errorf("native(%s, %s) = %d; want %d", tb, c, got, w[c])
			}
		}
	}
	for tb, af := range map[Table]uint32{TCP4: 2, UDP4: 2, TCP6: 23, UDP6: 23} {
		if got := tb.family(); got != af {
			t.Errorf("%s.family() = %d; want %d", tb, got, af)
		}
	}
}

// TestLayouts documents that the Windows row layouts, with the explicit
// padding of layout.go, are the same on 386, amd64 and arm64 (windows.md
// 1.5: Go aligns 64-bit fields to 4 on 386, MSVC to 8 everywhere, so the
// UDP owner-module rows need the `_ uint32` fields), and that the rows of
// an owner-module table start at offset 8 on all of them. It checks the
// structs, as compiled for the GOARCH the test runs on, against the
// documented sizes and offsets; layout.go asserts the same at compile time
// for every GOARCH the package builds for (CI builds windows/386 and
// windows/arm64). Run it with GOARCH=386 too.
func TestLayouts(t *testing.T) {
	type field struct {
		name     string
		got, doc int
	}
	o := func(x uintptr) int { return int(x) }
	tests := []struct {
		name   string
		size   uintptr
		doc    docLayout
		fields []field
		l      *layout
	}{
		{"MIB_TCPROW_OWNER_PID", unsafe.Sizeof(mibTCPRowOwnerPID{}), docLayouts[TCP4][0], []field{
			{"State", o(unsafe.Offsetof(mibTCPRowOwnerPID{}.State)), 0},
			{"LocalAddr", o(unsafe.Offsetof(mibTCPRowOwnerPID{}.LocalAddr)), 4},
			{"RemotePort", o(unsafe.Offsetof(mibTCPRowOwnerPID{}.RemotePort)), 16},
			{"OwningPID", o(unsafe.Offsetof(mibTCPRowOwnerPID{}.OwningPID)), 20},
		}, &tcp4PIDLayout},
		{"MIB_TCP6ROW_OWNER_PID", unsafe.Sizeof(mibTCP6RowOwnerPID{}), docLayouts[TCP6][0], []field{
			{"LocalScopeID", o(unsafe.Offsetof(mibTCP6RowOwnerPID{}.LocalScopeID)), 16},
			{"RemoteAddr", o(unsafe.Offsetof(mibTCP6RowOwnerPID{}.RemoteAddr)), 24},
			{"State", o(unsafe.Offsetof(mibTCP6RowOwnerPID{}.State)), 48},
			{"OwningPID", o(unsafe.Offsetof(mibTCP6RowOwnerPID{}.OwningPID)), 52},
		}, &tcp6PIDLayout},
		{"MIB_UDPROW_OWNER_PID", unsafe.Sizeof(mibUDPRowOwnerPID{}), docLayouts[UDP4][0], []field{
			{"OwningPID", o(unsafe.Offsetof(mibUDPRowOwnerPID{}.OwningPID)), 8},
		}, &udp4PIDLayout},
		{"MIB_UDP6ROW_OWNER_PID", unsafe.Sizeof(mibUDP6RowOwnerPID{}), docLayouts[UDP6][0], []field{
			{"LocalPort", o(unsafe.Offsetof(mibUDP6RowOwnerPID{}.LocalPort)), 20},
			{"OwningPID", o(unsafe.Offsetof(mibUDP6RowOwnerPID{}.OwningPID)), 24},
		}, &udp6PIDLayout},
		{"MIB_TCPROW_OWNER_MODULE", unsafe.Sizeof(mibTCPRowOwnerModule{}), docLayouts[TCP4][1], []field{
			{"CreateTimestamp", o(unsafe.Offsetof(mibTCPRowOwnerModule{}.CreateTimestamp)), 24},
			{"OwningModuleInfo", o(unsafe.Offsetof(mibTCPRowOwnerModule{}.OwningModuleInfo)), 32},
		}, &tcp4ModuleLayout},
		{"MIB_TCP6ROW_OWNER_MODULE", unsafe.Sizeof(mibTCP6RowOwnerModule{}), docLayouts[TCP6][1], []field{
			{"CreateTimestamp", o(unsafe.Offsetof(mibTCP6RowOwnerModule{}.CreateTimestamp)), 56},
			{"OwningModuleInfo", o(unsafe.Offsetof(mibTCP6RowOwnerModule{}.OwningModuleInfo)), 64},
		}, &tcp6ModuleLayout},
		{"MIB_UDPROW_OWNER_MODULE", unsafe.Sizeof(mibUDPRowOwnerModule{}), docLayouts[UDP4][1], []field{
			{"CreateTimestamp", o(unsafe.Offsetof(mibUDPRowOwnerModule{}.CreateTimestamp)), 16}, // 12 without the pad on 386
			{"Flags", o(unsafe.Offsetof(mibUDPRowOwnerModule{}.Flags)), 24},
			{"OwningModuleInfo", o(unsafe.Offsetof(mibUDPRowOwnerModule{}.OwningModuleInfo)), 32},
		}, &udp4ModuleLayout},
		{"MIB_UDP6ROW_OWNER_MODULE", unsafe.Sizeof(mibUDP6RowOwnerModule{}), docLayouts[UDP6][1], []field{
			{"CreateTimestamp", o(unsafe.Offsetof(mibUDP6RowOwnerModule{}.CreateTimestamp)), 32},
			{"Flags", o(unsafe.Offsetof(mibUDP6RowOwnerModule{}.Flags)), 40},
			{"OwningModuleInfo", o(unsafe.Offsetof(mibUDP6RowOwnerModule{}.OwningModuleInfo)), 48},
		}, &udp6ModuleLayout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if int(tt.size) != tt.doc.size {
				t.Errorf("unsafe.Sizeof(%s) on %s = %d; want %d", tt.name, runtime.GOARCH, tt.size, tt.doc.size)
			}
			for _, f := range tt.fields {
				if f.got != f.doc {
					t.Errorf("unsafe.Offsetof(%s.%s) on %s = %d; want %d", tt.name, f.name, runtime.GOARCH, f.got, f.doc)
				}
			}
			// The decoder's layout, derived from the struct, against the
			// documentation.
			got := docLayout{
				rowsAt: tt.l.rowsAt, size: tt.l.size, state: tt.l.state, laddr: tt.l.localAddr,
				lscope: tt.l.localScope, lport: tt.l.localPort, raddr: tt.l.remoteAddr, rscope: tt.l.remoteScope,
				rport: tt.l.remotePort, pid: tt.l.pid, created: tt.l.created, flags: tt.l.flags, mod: tt.l.module,
			}
			if diff := cmp.Diff(tt.doc, got, cmp.AllowUnexported(docLayout{})); diff != "" {
				t.Errorf("layout of %s on %s mismatch (-want +got):\n%s", tt.name, runtime.GOARCH, diff)
			}
		})
	}
	if got, want := unsafe.Sizeof(tcpipOwnerModuleBasicInfo{}), 2*unsafe.Sizeof(uintptr(0)); got != want {
		t.Errorf("unsafe.Sizeof(TCPIP_OWNER_MODULE_BASIC_INFO) on %s = %d; want %d", runtime.GOARCH, got, want)
	}
}

func TestCheckOwnerRow(t *testing.T) {
	ap := netip.MustParseAddrPort
	module := func(tb Table, pid uint32) Row {
		rows, err := Decode(buildTable(tb, OwnerModuleAll, 1, fixRow{state: 2, local: ap("127.0.0.1:80"), pid: pid}), tb, OwnerModuleAll)
		if err != nil || len(rows) != 1 {
			t.Fatalf("Decode = %v, %v", rows, err)
		}
		return rows[0]
	}
	pidRow := func(tb Table, pid uint32) Row {
		rows, err := Decode(buildTable(tb, OwnerPIDAll, 1, fixRow{state: 2, local: ap("127.0.0.1:80"), pid: pid}), tb, OwnerPIDAll)
		if err != nil || len(rows) != 1 {
			t.Fatalf("Decode = %v, %v", rows, err)
		}
		return rows[0]
	}
	tests := []struct {
		name     string
		r        Row
		wantErr  string
		noModule bool
	}{
		{name: "tcp4 module row", r: module(TCP4, 100)},
		{name: "udp6 module row", r: func() Row {
			rows, _ := Decode(buildTable(UDP6, OwnerModuleAll, 1, fixRow{local: ap("[::1]:53"), pid: 100}), UDP6, OwnerModuleAll)
			return rows[0]
		}()},
		{name: "PID 0", r: module(TCP4, 0), wantErr: "PID 0 is no process", noModule: true},
		{name: "PID 4", r: module(TCP4, 4), wantErr: "PID 4 is System", noModule: true},
		{name: "PID row", r: pidRow(TCP4, 100), wantErr: "read the table with an OwnerModule class"},
		{name: "row from another table", r: func() Row { r := module(TCP6, 100); r.Table = UDP4; return r }(),
			wantErr: "no owning-module information"},
		{name: "unknown table", r: Row{Table: 9, PID: 100}, wantErr: "unknown table"},
	}
	if err := checkOwnerRow(nil); err == nil {
		t.Errorf("checkOwnerRow(nil) = nil; want an error")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkOwnerRow(&tt.r)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("checkOwnerRow(%+v) = %v; want nil", tt.r, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("checkOwnerRow(%+v) = %v; want an error containing %q", tt.r, err, tt.wantErr)
			}
			if got := errors.Is(err, ErrNoModule); got != tt.noModule {
				t.Errorf("errors.Is(checkOwnerRow(%+v), ErrNoModule) = %v; want %v", tt.r, got, tt.noModule)
			}
		})
	}
}

// ownerBuf builds a GetOwnerModuleFrom*Entry answer at address base:
// TCPIP_OWNER_MODULE_BASIC_INFO with ptrSize-byte pointers, then the
// strings as NUL-terminated UTF-16LE; a nil string gives a NULL pointer.
func ownerBuf(base uint64, ptrSize int, name, path *string) []byte {
	b := make([]byte, 2*ptrSize)
	put := func(i int, s *string) {
		if s == nil {
			return
		}
		p := base + uint64(len(b))
		for _, c := range *s + "\x00" {
			b = append(b, byte(c), byte(c>>8)) // BMP only in these fixtures
		}
		for k := 0; k < ptrSize; k++ {
			b[i*ptrSize+k] = byte(p >> (8 * k))
		}
	}
	put(0, name)
	put(1, path)
	return b
}

func TestDecodeOwnerModule(t *testing.T) {
	s := func(v string) *string { return &v }
	const base = 0x7FF6_0010_0000
	svchost := `C:\Windows\System32\svchost.exe`
	tests := []struct {
		name             string
		b                []byte
		base             uint64
		ptrSize          int
		wantName, wantPa string
		wantErr          string
	}{
		{name: "process, 64-bit", b: ownerBuf(base, 8, s("whobinds.exe"), s(`C:\tools\whobinds.exe`)), base: base, ptrSize: 8,
			wantName: "whobinds.exe", wantPa: `C:\tools\whobinds.exe`},
		{name: "service, 64-bit", b: ownerBuf(base, 8, s("Dnscache"), s("Dnscache")), base: base, ptrSize: 8,
			wantName: "Dnscache", wantPa: "Dnscache"},
		{name: "process, 32-bit", b: ownerBuf(0x0040_0000, 4, s("svchost.exe"), s(svchost)), base: 0x0040_0000, ptrSize: 4,
			wantName: "svchost.exe", wantPa: svchost},
		{name: "non-ASCII", b: ownerBuf(base, 8, s("größe.exe"), s(`C:\Ünïcode\größe.exe`)), base: base, ptrSize: 8,
			wantName: "größe.exe", wantPa: `C:\Ünïcode\größe.exe`},
		{name: "NULL pointers", b: ownerBuf(base, 8, nil, nil), base: base, ptrSize: 8},
		{name: "empty strings", b: ownerBuf(base, 8, s(""), s("")), base: base, ptrSize: 8},
		{name: "short", b: make([]byte, 15), base: base, ptrSize: 8, wantErr: "15 bytes"},
		{name: "pointer size", b: make([]byte, 16), base: base, ptrSize: 2, wantErr: "pointer size 2"},
		{name: "pointer before the buffer", b: ownerBuf(base, 8, s("a"), s("b")), base: base + 2, ptrSize: 8,
			wantErr: "outside the buffer"},
		{name: "pointer into the header", b: ownerBuf(base-8, 8, s("a"), s("b")), base: base, ptrSize: 8,
			wantErr: "outside the buffer"},
		{name: "pointer past the end", b: ownerBuf(base+64, 8, s("a"), s("b")), base: base, ptrSize: 8,
			wantErr: "outside the buffer"},
		{name: "unterminated", b: ownerBuf(base, 8, s("a"), s("abc"))[:16+4+6], base: base, ptrSize: 8,
			wantErr: "not terminated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, path, err := decodeOwnerModule(tt.b, tt.base, tt.ptrSize)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("decodeOwnerModule(%x) = %q, %q, %v; want an error containing %q", tt.b, name, path, err, tt.wantErr)
				}
				return
			}
			if err != nil || name != tt.wantName || path != tt.wantPa {
				t.Errorf("decodeOwnerModule(%x) = %q, %q, %v; want %q, %q, nil", tt.b, name, path, err, tt.wantName, tt.wantPa)
			}
		})
	}
}

// BenchmarkDecode decodes a table of 1000 rows of each layout.
func BenchmarkDecode(b *testing.B) {
	ap := netip.MustParseAddrPort
	for _, tb := range []Table{TCP4, TCP6, UDP4, UDP6} {
		for _, c := range []Class{OwnerModuleAll, OwnerPIDAll} {
			rows := make([]fixRow, 1000)
			for i := range rows {
				local, remote := ap("10.0.0.1:443"), ap("10.0.0.2:50000")
				if tb.ipv6() {
					local, remote = ap("[fe80::1%4]:443"), ap("[fe80::2%4]:50000")
				}
				rows[i] = fixRow{state: 5, local: local, remote: remote, pid: uint32(i), filetime: createdFT, moduleInfo0: 3}
			}
			buf := buildTable(tb, c, uint32(len(rows)), rows...)
			b.Run(tb.String()+"/"+c.String(), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(buf)))
				for b.Loop() {
					if _, err := Decode(buf, tb, c); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

var mustAP = netip.MustParseAddrPort

func TestDropRepeatedRows(t *testing.T) {
	ap := netip.MustParseAddrPort
	row := func(tb Table, local, remote string, st model.State, pid uint32) Row {
		r := Row{Table: tb, Local: ap(local), State: st, PID: pid}
		if remote != "" {
			r.Remote = ap(remote)
		}
		return r
	}
	est := row(TCP4, "127.0.0.1:40000", "127.0.0.1:12000", model.Established, 7)
	estOther := est
	estOther.PID = 8 // the same connection as read by a later page
	peer := row(TCP4, "127.0.0.1:12000", "127.0.0.1:40000", model.Established, 7)
	est6 := row(TCP6, "[::1]:40000", "[::1]:12000", model.Established, 7)
	tw := row(TCP4, "127.0.0.1:40000", "127.0.0.1:12000", model.TimeWait, 0)
	lis := row(TCP4, "0.0.0.0:12000", "0.0.0.0:0", model.Listen, 7)
	lisOtherPID := row(TCP4, "0.0.0.0:12000", "0.0.0.0:0", model.Listen, 8)
	lisLater := lis
	lisLater.Created = created // the same process's second listener, created later
	udp := row(UDP4, "0.0.0.0:5353", "", model.Close, 9)
	udpTagged := udp
	udpTagged.Tag = 3
	tests := []struct {
		name string
		in   []Row
		want []Row
	}{
		{"none", nil, nil},
		{"no repeats", []Row{est, peer, est6, lis, udp}, []Row{est, peer, est6, lis, udp}},
		{"a repeated connection keeps its first row", []Row{est, lis, peer, est, est}, []Row{est, lis, peer}},
		{"a connection is its two ends and state, whatever else a repeat says", []Row{est, estOther}, []Row{est}},
		{"the same ends in IPv4 and IPv6 tables are not repeats", []Row{est, est6}, []Row{est, est6}},
		{"another state is another socket", []Row{tw, est, tw}, []Row{tw, est}},
		{"a repeated listener", []Row{lis, udp, lis}, []Row{lis, udp}},
		{"listeners sharing a port stay", []Row{lis, lisOtherPID, lisLater}, []Row{lis, lisOtherPID, lisLater}},
		{"a repeated UDP socket", []Row{udp, udpTagged, udp}, []Row{udp, udpTagged}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DropRepeatedRows(append([]Row(nil), tt.in...))
			if diff := cmp.Diff(tt.want, got, rowOpts, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("DropRepeatedRows (-want +got):\n%s", diff)
			}
		})
	}
}
